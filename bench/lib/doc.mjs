// Writes docs/performance.md from the saved results (bench/results/<scenario>-<size>.jsonl), so
// the document always shows figures a real run produced: `node bench/run.mjs doc --size small`.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { aggregate, table } from './report.mjs';
import { BENCH_DIR, ROOT } from './servers.mjs';

const ORDER = ['fanout', 'cluster', 'connections', 'many-channels', 'client-events', 'presence-churn', 'apps', 'history', 'http-fallback', 'scale'];

function load(name, size) {
  const file = path.join(BENCH_DIR, 'results', `${name}-${size}.jsonl`);
  if (!existsSync(file)) return null;
  const lines = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const meta = lines.find((l) => l.meta);
  const rows = lines.filter((l) => !l.meta);
  return { meta, rows, agg: aggregate(rows) };
}

const f = (v, d = 2) => {
  if (v === null || v === undefined) return '–';
  if (typeof v !== 'number') return String(v);
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return String(Math.round(v));
  if (a >= 10) return String(Math.round(v * 10) / 10);
  return String(Math.round(v * 10 ** d) / 10 ** d);
};
const x = (v) => (v === null || v === undefined ? '–' : `${f(v, 2)}×`);

function summary(name, agg) {
  const out = [];
  const pick = (server, pred) => agg.find((r) => r.server === server && pred(r));
  if (name === 'fanout') {
    const sizes = [...new Set(agg.map((r) => r.subscribers))].sort((a, b) => a - b);
    for (const C of sizes) {
      const h = pick('herald', (r) => r.subscribers === C && r.phase === 'max');
      const hf = pick('herald', (r) => r.subscribers === C && r.phase === 'fixed');
      if (!h) continue;
      out.push(
        `- ${C.toLocaleString('en-US')} subscribers: Herald delivered ${f(h.deliveredPerSec)} messages/s at the maximum rate (${x(h.vsCeiling?.tput)} the ceiling, ${x(h.vsSoketi?.tput)} soketi; bound: ${h.bound}), p99 ${f(hf?.p99)} ms at ${f(hf?.triggersPerSec, 0)} triggers/s (${x(hf?.vsCeiling?.p99)} the ceiling's p99, ${x(hf?.vsSoketi?.p99)} soketi's), ${f(h.cpuUsPerMsg)} µs of server CPU per delivered message at the maximum rate (${x(h.vsCeiling?.cpu)} the ceiling's, ${x(h.vsSoketi?.cpu)} soketi's), loss ${f(h.loss, 4)}.`,
      );
    }
  } else if (name === 'cluster') {
    for (const r of agg.filter((q) => q.kind === 'herald' && q.nodes > 1 && q.phase === 'max')) {
      out.push(
        `- ${r.server} (subscribers on A, triggers through B): ${f(r.deliveredPerSec)} messages/s at the maximum rate, ${x(r.vsSingle?.tput)} single-node Herald; p99 ${f(r.p99)} ms (${x(r.vsSingle?.p99)} single-node).`,
      );
    }
    const cmds = agg.filter((q) => q.kind === 'herald' && q.redisCmdsPerMsg !== undefined && q.phase === 'fixed').sort((a, b) => a.nodes - b.nodes);
    if (cmds.length)
      out.push(
        `- Redis commands per published message, fixed rate, as nodes are added: ${cmds.map((r) => `${r.nodes} node${r.nodes > 1 ? 's' : ''}: ${f(r.redisCmdsPerMsg, 3)}`).join(', ')} (net of the idle rate; idle nodes subscribe to nothing).`,
      );
  } else if (name === 'connections') {
    for (const r of agg.filter((q) => q.kind === 'herald')) {
      out.push(
        `- ${r.connections.toLocaleString('en-US')} idle connections: Herald ${f(r.kbPerConn)} KB RSS per connection (ceiling ${x(r.vsCeiling?.kbPerConn)}, soketi ${x(r.vsSoketi?.kbPerConn)}), ${f(r.connectPerSec)} connections/s.`,
      );
    }
  } else if (name === 'many-channels') {
    const r = pick('herald', (q) => q.phase === 'max');
    if (r)
      out.push(
        `- Herald accepted ${f(r.triggersPerSec)} signed triggers/s at the maximum rate (${x(r.vsCeiling?.tput)} the unsigned ceiling, ${x(r.vsSoketi?.tput)} soketi), ${f(r.cpuUsPerTrigger)} µs of server CPU per trigger (${x(r.vsCeiling?.cpu)} the ceiling's, ${x(r.vsSoketi?.cpu)} soketi's); bound: ${r.bound}.`,
      );
  } else if (name === 'client-events') {
    const r = pick('herald', (q) => q.phase === 'max');
    if (r)
      out.push(
        `- Herald relayed ${f(r.relayedPerSec)} client events/s at the maximum rate (${x(r.vsCeiling?.tput)} the ceiling, ${x(r.vsSoketi?.tput)} soketi), p99 ${f(r.p99)} ms; ${f(r.cpuUsPerMsg)} µs of server CPU per relayed event (${x(r.vsCeiling?.cpu)} the ceiling's, ${x(r.vsSoketi?.cpu)} soketi's).`,
      );
  } else if (name === 'history') {
    for (const r of agg.filter((q) => q.history === 'on')) {
      const off = agg.find((q) => q.history === 'off' && q.server === r.server);
      out.push(
        `- ${r.server}, ${f(r.subscribers)} subscribers: ${f(r.cpuUsPerMsg)} µs of server CPU per delivered message with history on, ${f(off?.cpuUsPerMsg)} µs with it off (on ÷ off, median of each run's own ratio: ${x(r.cpuOnOverOff)}; target at most 1.15×), loss ${f(r.loss, 4)}${r.historyEntries !== undefined ? `; the channel's history in Redis after the phase: ${f(r.historyEntries)} entries, ${f(r.historyBytes)} bytes (MEMORY USAGE of its list and hash)` : ''}.`,
      );
    }
  } else if (name === 'presence-churn') {
    for (const r of agg.filter((q) => q.kind === 'herald')) {
      out.push(
        `- ${r.server} (${r.nodes} node${r.nodes > 1 ? 's' : ''}): ${f(r.joinsPerSec)} joins/s and as many leaves (${x(r.vsCeiling?.tput)} the ceiling, ${x(r.vsSoketi?.tput)} soketi with as many nodes), ${f(r.cpuUsPerJoin)} µs of server CPU per join+leave (${x(r.vsSoketi?.cpu)} soketi's), member_added p99 ${f(r.p99)} ms, every member event seen: ${r.addedSeen === 1 && r.removedSeen === 1 ? 'yes' : `added ${r.addedSeen}, removed ${r.removedSeen}`}${r.redisCmdsPerJoin ? `, ${f(r.redisCmdsPerJoin)} Redis commands per join+leave` : ''}.`,
      );
    }
  }
  return out.join('\n');
}

const TITLES = {
  fanout: 'Fan-out: one channel, many subscribers',
  cluster: 'Cluster: cross-node fan-out and Redis commands per message',
  connections: 'Idle connections: memory and connect rate',
  'many-channels': 'Many channels: signed triggers per second',
  'client-events': 'Client events: relay on private channels',
  'presence-churn': 'Presence churn across nodes',
  apps: 'Apps at run time: one app against many in the store, and change propagation',
  history: 'Message recovery: history on against off',
  'http-fallback': 'HTTP fallback transports: streaming and long polling against WebSocket',
  scale: 'Scale: a cluster under a mix of loads, with faults, in one run',
};

export async function writeDoc({ size = 'small' } = {}) {
  const results = {};
  for (const n of ORDER) results[n] = load(n, size);
  const any = Object.values(results).find(Boolean);
  if (!any) throw new Error(`no results in bench/results/*-${size}.jsonl: run the scenarios first`);
  const m = any.meta.machine;
  const dates = Object.values(results)
    .filter(Boolean)
    .map((r) => r.meta.machine.date.slice(0, 16).replace('T', ' '));
  const soketiNotes = Object.values(results)
    .filter(Boolean)
    .flatMap((r) => r.meta.notes ?? [])
    .filter((n) => n.startsWith('soketi'));
  const commits = [
    ...new Set(
      Object.values(results)
        .filter(Boolean)
        .map((r) => r.meta.machine.commit ?? '?'),
    ),
  ];
  const loads = Object.entries(results)
    .filter(([, r]) => r)
    .map(([n, r]) => `${n} ${r.meta.machine.loadavg?.[0]}`)
    .join(', ');

  const parts = [];
  parts.push(`# Performance

Herald measured against two references **in the same run, on the same machine**: a bare
uWebSockets.js fan-out server (\`bench/ceiling.mjs\`: Pusher-style subscribe and \`app.publish\`, an
HTTP trigger endpoint on uWS, no signature checks, no validation: the ceiling for any
Pusher-compatible server written on uWS in Node), and [soketi](https://github.com/soketi/soketi) 1.6.1,
installed from npm into a scratch folder at run time. Every Herald figure is given as a ratio to both.

> **Figures below: \`--size ${size}\`**, ${dates.length ? `run ${[...new Set(dates)].sort()[0]}–${[...new Set(dates)].sort().at(-1)} UTC` : ''}
> on a ${m.nproc}-core ${m.cpu} machine (${m.memGiB} GiB), Node ${m.node}, Linux ${m.kernel}, Herald built from the working tree at commit${commits.length > 1 ? 's' : ''} ${commits.join(', ')}${commits.length > 1 ? ' (a scenario was rerun after a later commit; each names its own)' : ''}.
> Server, Redis and load generator all share those ${m.nproc} cores, and the machine may be **shared with other
> jobs** during the runs (1-minute load average at each scenario's start: ${loads}): the \`other\` column is
> the CPU (in cores) used by processes outside the benchmark during each phase. Absolute numbers are therefore
> low and noisy; server CPU per message and the same-run ratios are the figures to read, and a quiet machine
> (or more \`--runs\`, whose medians are reported) gives steadier ones.${soketiNotes.length ? `\n>\n> soketi: ${soketiNotes.join('; ')}` : ''}

![Fan-out throughput and latency against subscriber count](../bench/results/fanout-${size}.svg)

## Running

\`\`\`sh
npx tsc -b                                   # the bench runs the built gateway (packages/gateway/dist)
npm run bench -- fanout                      # one scenario, --size small (default): under about a minute each
npm run bench -- cluster --size full         # the sizes of the issue: 1k/5k/10k subscribers, 10k-50k connections...
npm run bench -- all --runs 3                # every scenario, medians of 3 runs
npm run bench -- fanout --servers herald,ceiling --set subs=[2000] --set rate=50
npm run bench -- doc --size small            # rewrite this file from bench/results/
\`\`\`

Scenarios: \`fanout\`, \`cluster\`, \`connections\`, \`many-channels\`, \`client-events\`, \`presence-churn\`, \`apps\`, \`history\`, \`http-fallback\`, \`scale\`.
Each prints one JSON line per measurement (with every field: histograms summarised, generator CPU per
process, HTTP status counts, errors), then a table; results are kept in \`bench/results/<scenario>-<size>.jsonl\`
and fan-out's chart in \`bench/results/fanout-<size>.svg\`. soketi is installed on first use into
\`$TMPDIR/herald-bench-soketi-1.6.1\` (\`--fresh-soketi\` reinstalls): its package.json overrides
\`uWebSockets.js\` with \`npm:@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0\`, since soketi's own
dependency points at a git host that cannot be reached. It is never a dependency of the project.
Every load goes to 127.0.0.1 only, every phase is bounded in time, and every process the bench starts
is killed when it exits.

## Method

- **Servers** are started fresh for each measurement: Herald embedded (\`node packages/gateway/dist/main.js\`)
  or as cluster gateways (\`--role=gateway\`, \`REDIS_URL\` to a private \`redis-server\` on a free port with
  \`--save "" --appendonly no\`); soketi with \`SOKETI_DEFAULT_APP_ID/KEY/SECRET\`, \`SOKETI_PORT\`, client
  events enabled, and its Redis adapter for the clustered rows; the ceiling. Herald runs with its defaults except
  \`PUSH_MAX_CONNECTIONS_PER_SECOND=0\` (the connection admission limit, which neither reference has) and, in
  client-events only, \`maxClientEventsPerSecond\` raised so that the relay, not the limiter, is measured.
- **Load generator**: separate processes (\`bench/lib/worker.mjs\`, \`ws\` clients). Subscriber processes hold the
  connections and report deliveries and latency histograms to the parent; a publisher process signs each
  trigger with \`signApiRequest\` and POSTs it over keep-alive connections. Each event carries
  \`@t=<µs>;p=<phase>;s=<seq>\` in its data, \`t\` read from the machine-wide monotonic clock just before the
  request is sent: latency is end to end (HTTP request, server, WebSocket frame, client parse), without clock
  skew between processes. Receivers find the marker with \`Buffer.indexOf\` and never parse events as JSON.
- **Fixed rate** is open loop at the configured triggers/s. **Maximum rate** is closed loop: the publisher keeps
  at most a window of deliveries outstanding (\`windowDeliveries\` in the configuration, 50,000 by default, or 2
  messages' worth if larger),
  fed by the subscriber processes' progress every 10 ms, and at most 16 HTTP requests in flight, so the server
  is driven as fast as it can deliver without queueing without bound (no server closes slow clients in these
  runs). Latency at the maximum rate is therefore mostly time spent in that window; the fixed-rate latency is
  the one to compare. Loss = 1 − delivered / (accepted triggers × subscribers), after a drain.
- **On 2 shared cores, read the CPU columns first.** At the maximum rate the generator needs more CPU to
  receive messages than any server needs to send them (\`gen cores\`, per process in the JSON lines as
  \`genProcCores\`: parent, subscriber processes, publisher), and the machine runs out (\`bound: machine\`) before
  the server does. Messages/s then measure the machine as much as the server; **server CPU µs per delivered
  message** (or per trigger, per join) measures the server alone and is the steadier comparison.
- **CPU** of each server process (and Redis, and every generator process) is the \`utime+stime\` delta from
  \`/proc/<pid>/stat\` over the phase; **RSS** is the peak \`VmRSS\` sampled every 200 ms. \`bound\` names what ran out
  first: \`server\` (a server process above 0.9 of a core: the single-threaded event loop is full), \`generator\`
  (a generator process above 0.9 of a core: the figure is a floor for the server), \`machine\` (all cores busy,
  including other jobs), or \`-\`.
- **Ratios** (\`÷ ceil\`, \`÷ soketi\`, \`/single\`) divide Herald's figure by the reference's from the same run and
  the same size and phase: above 1 is more throughput but also more latency, CPU or memory. With several runs,
  every column (ratios included) is the median over the runs of that column, so a ratio column need not equal
  the quotient of two median columns. The JSON lines in \`bench/results/\` keep each run, with its \`otherCores\`.
- **Connections**: the servers and generator processes are started with the fd limit raised as far as the
  machine allows (\`ulimit -n\` up to the hard limit; this machine's hard limit is ${m.serverFdLimit}). A server
  process cannot hold more connections than that, so larger counts of the full size are capped, and say so.
  Above 25,000 connections the clients spread over source addresses 127.0.0.1–8 (one address has ~28k
  ephemeral ports).
`);
  for (const n of ORDER) {
    const r = results[n];
    parts.push(`## ${TITLES[n]}\n`);
    if (!r) {
      parts.push(`_No \`${size}\` results yet: \`npm run bench -- ${n} --size ${size}\`._\n`);
      continue;
    }
    const sc = (await import(`../scenarios/${n}.mjs`)).default;
    const others = r.rows
      .map((q) => q.otherCores)
      .filter((v) => typeof v === 'number')
      .sort((a, b) => a - b);
    const otherMedian = others.length ? others[Math.floor(others.length / 2)] : null;
    parts.push(
      `${sc.description}. Run ${r.meta.machine.date.slice(0, 16).replace('T', ' ')} UTC, configuration \`${JSON.stringify(r.meta.cfg)}\`${r.meta.runs > 1 ? `, median of ${r.meta.runs} runs` : ''}, ${r.meta.elapsedS} s, commit ${r.meta.machine.commit ?? '?'}; other jobs used a median ${f(otherMedian)} of the ${m.nproc} cores during its phases.\n`,
    );
    // A scenario may give its own summary lines (from its every row, to pool runs).
    if (existsSync(path.join(BENCH_DIR, 'results', `${n}-${size}.svg`)) && n !== 'fanout') parts.push(`![${TITLES[n]}](../bench/results/${n}-${size}.svg)\n`);
    const s = sc.summary ? sc.summary(r.agg, r.rows).join('\n') : summary(n, r.agg);
    if (s) parts.push(`${s}\n`);
    const cols = [...sc.columns.filter((c) => !['gen cores', 'host busy'].includes(c[0])), ['gen cores', (q) => q.genCores], ['other', (q) => q.otherCores]];
    // A scenario may show fewer rows here than on the console (`docRows`).
    parts.push(table(sc.docRows?.(r.agg) ?? sc.tableRows?.(r.agg) ?? r.agg, cols, { markdown: true }) + '\n');
    for (const extra of sc.extraTables?.(r.agg, r.rows) ?? []) parts.push(`${extra.title}:\n\n${table(extra.rows, extra.columns, { markdown: true })}\n`);
    if (r.meta.notes?.length) parts.push(`Notes from the run:\n\n${r.meta.notes.map((t) => `- ${t}`).join('\n')}\n`);
  }
  const file = path.join(ROOT, 'docs/performance.md');
  let text = parts.join('\n');
  const extraFile = path.join(BENCH_DIR, 'findings.md');
  if (existsSync(extraFile)) text += `\n${readFileSync(extraFile, 'utf8')}`;
  writeFileSync(file, text);
  return file;
}
