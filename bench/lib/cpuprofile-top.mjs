// The functions a V8 CPU profile (`node --cpu-prof`, e.g. a server the bench started with
// HERALD_BENCH_SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR') spent its time in: self time and
// total (inclusive) time per function, as shares of the time not idle
// (`npm run bench -- cpuprofile-top FILE.cpuprofile [N]`).
//
// V8 samples on a wall-clock interval: on a machine whose cores are shared, a sample taken after the
// process waited for a core counts that wait too, so the shares are of time not idle, not of CPU.
import { readFileSync } from 'node:fs';

/** The report for one .cpuprofile file, the top `n` functions each way. */
export function cpuprofileTop(file, n = 25) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const name = (node) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? ` ${url.replace(/^.*\/(packages|node_modules)\//, '$1/')}:${lineNumber + 1}` : '';
    return `${functionName || '(anonymous)'}${where}`;
  };

  // Time per sampled node: each sample stands for the delta to the next one.
  const timeByNode = new Map();
  profile.samples.forEach((id, i) => timeByNode.set(id, (timeByNode.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0)));

  const self = new Map();
  const total = new Map();
  let all = 0;
  let idle = 0;
  for (const [id, us] of timeByNode) {
    const node = nodes.get(id);
    all += us;
    if (node.callFrame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    self.set(name(node), (self.get(name(node)) ?? 0) + us);
    // A recursive function counts once per sample in the total.
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const k = name(nodes.get(at));
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + us);
    }
  }
  const busy = all - idle;
  const top = (map) =>
    [...map]
      .filter(([k]) => k !== '(root)')
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `${((us / busy) * 100).toFixed(1).padStart(6)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`)
      .join('\n');
  return `${file}: ${(all / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(2)} s not idle\n\nself time (share of the time not idle)\n${top(self)}\n\ntotal time, callees included\n${top(total)}\n`;
}
