#!/usr/bin/env node
// Herald benchmark suite entry point.
//
//   node bench/run.mjs <scenario|all> [--size small|full] [--runs N] [--servers herald,soketi,ceiling]
//                      [--set key=value ...] [--quiet-wait SECONDS] [--fresh-soketi] [--no-save]
//   node bench/run.mjs doc [--size small]     (rewrites docs/performance.md from bench/results/)
//   node bench/run.mjs list
//   perf script -F time,ip,sym | node bench/run.mjs perf-breakdown [DELIVERED]   (lib/perf-breakdown.mjs)
//   node bench/run.mjs cpuprofile-top FILE.cpuprofile [N]                          (lib/cpuprofile-top.mjs)
//
// Scenarios: fanout, cluster, connections, many-channels, client-events, presence-churn, apps, history,
// http-fallback, scale.
// Prints one JSON line per measurement on stdout, then a table (medians over runs when --runs > 1);
// progress goes to stderr. Results are kept in bench/results/<scenario>-<size>.jsonl; fanout and
// scale also write bench/results/<scenario>-<size>.svg. Everything runs against 127.0.0.1 only, and every phase is
// bounded in time.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(BENCH, '..');

// Raise the fd limit for this process and every child (servers and generator processes): Node
// cannot call setrlimit itself, so re-exec once through the shell's ulimit (soft up to hard).
if (!process.env.HERALD_BENCH_FD_RAISED) {
  const r = spawnSync(
    '/bin/sh',
    [
      '-c',
      'ulimit -n 1048576 2>/dev/null || ulimit -n $(ulimit -Hn) 2>/dev/null; exec "$@"',
      'sh',
      process.execPath,
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      ...process.argv.slice(2),
    ],
    { stdio: 'inherit', env: { ...process.env, HERALD_BENCH_FD_RAISED: '1' } },
  );
  process.exit(r.status ?? (r.signal ? 1 : 0));
}

const { LoadGen } = await import('./lib/loadgen.mjs');

/**
 * Exits once what was written to stdout and stderr is out: into a pipe whose reader is slow (a test
 * runner on a busy machine), writes past the pipe's buffer wait in the process, and process.exit
 * would drop them (the summary tables, written last).
 */
async function exitWhenFlushed(code) {
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise((resolve) => s.write('', resolve))));
  process.exit(code);
}
const { addRatios, aggregate, table, fanoutSvg } = await import('./lib/report.mjs');
const { ensureSoketi, machineFacts } = await import('./lib/servers.mjs');
const { log } = await import('./lib/util.mjs');

export const SCENARIOS = ['fanout', 'cluster', 'connections', 'many-channels', 'client-events', 'presence-churn', 'apps', 'history', 'http-fallback', 'scale'];

function parseArgs(argv) {
  const o = { _: [], size: 'small', runs: 1, set: {}, save: true, freshSoketi: false, servers: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (a.includes('=')) return a.slice(a.indexOf('=') + 1);
      return argv[++i];
    };
    if (a.startsWith('--size')) o.size = val();
    else if (a.startsWith('--runs')) o.runs = Math.max(1, Math.min(20, Number(val()) || 1));
    else if (a.startsWith('--servers')) o.servers = val().split(',').filter(Boolean);
    else if (a.startsWith('--set')) {
      const kv = a === '--set' ? argv[++i] : a.slice('--set='.length);
      const k = kv.slice(0, kv.indexOf('='));
      let v = kv.slice(kv.indexOf('=') + 1);
      try {
        v = JSON.parse(v);
      } catch {
        /* not JSON: the value is the string as given */
      }
      o.set[k] = v;
    } else if (a.startsWith('--quiet-wait')) o.quietWaitS = Math.max(0, Math.min(300, Number(val()) || 0));
    else if (a === '--fresh-soketi') o.freshSoketi = true;
    else if (a === '--no-save') o.save = false;
    else if (a === '-h' || a === '--help') o.help = true;
    else o._.push(a);
  }
  if (!['small', 'full'].includes(o.size)) throw new Error(`--size must be small or full, not ${o.size}`);
  return o;
}

/**
 * With --quiet-wait S: before each server is started, wait (at most S seconds) until processes
 * outside the bench use less than half a core, so a shared machine's bursts hit fewer phases.
 */
let lastQuietCheck = 0;
async function awaitQuiet(maxS) {
  if (!maxS || Date.now() - lastQuietCheck < 5000) return; // once per configuration, not per node
  lastQuietCheck = Date.now();
  const { hostCpu } = await import('./lib/proc.mjs');
  const nproc = os.availableParallelism?.() ?? os.cpus().length;
  const end = Date.now() + maxS * 1000;
  for (;;) {
    const a = hostCpu();
    await new Promise((r) => setTimeout(r, 500));
    const b = hostCpu();
    const other = ((b.busy - a.busy) / Math.max(1, b.total - a.total)) * nproc;
    if (other < 0.5) return void (lastQuietCheck = Date.now());
    if (Date.now() > end) {
      lastQuietCheck = Date.now();
      log(`machine still busy (${other.toFixed(2)} cores used by other processes); going on`);
      return;
    }
  }
}

async function runScenario(name, opts) {
  const sc = (await import(`./scenarios/${name}.mjs`)).default;
  const cfg = { ...sc.sizes[opts.size], ...opts.set };
  const servers = (opts.servers ?? sc.servers ?? ['ceiling', 'herald', 'soketi']).filter((s) => ['ceiling', 'herald', 'soketi'].includes(s));
  const meta = { meta: true, scenario: name, size: opts.size, runs: opts.runs, cfg, servers, machine: machineFacts() };
  const notes = [];
  const note = (t) => {
    if (!notes.includes(t)) {
      notes.push(t);
      log(`NOTE: ${t}`);
    }
  };
  if (servers.includes('soketi')) {
    const st = await ensureSoketi({ fresh: opts.freshSoketi });
    if (st.error) note(`soketi 1.6.1 could not be installed: ${st.error.slice(0, 300)}; ratios are to the ceiling only`);
    else meta.soketi = st.version;
  }
  log(`${name} (${opts.size}): ${sc.description}; servers ${servers.join(', ')}; cfg ${JSON.stringify(cfg)}`);
  const all = [];
  const t0 = Date.now();
  for (let run = 1; run <= opts.runs; run++) {
    const rows = [];
    const gen = await new LoadGen(sc.workers(cfg)).ready();
    const ctx = {
      cfg,
      size: opts.size,
      run,
      servers,
      gen,
      note,
      emit: (row) => rows.push({ scenario: name, size: opts.size, run, ...row }),
      awaitQuiet: () => awaitQuiet(opts.quietWaitS),
    };
    try {
      await sc.run(ctx);
    } finally {
      await gen.shutdown();
    }
    addRatios(rows, sc.ratioMetrics);
    sc.postprocess?.(rows);
    for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
    all.push(...rows);
  }
  meta.elapsedS = Math.round((Date.now() - t0) / 1000);
  const agg = aggregate(all);
  process.stdout.write(`\n${name} (${opts.size}${opts.runs > 1 ? `, median of ${opts.runs} runs` : ''}, ${meta.elapsedS} s)\n`);
  process.stdout.write(`${table(sc.tableRows?.(agg) ?? agg, sc.columns)}\n`);
  for (const extra of sc.extraTables?.(agg, all) ?? []) process.stdout.write(`\n${extra.title}\n${table(extra.rows, extra.columns)}\n`);
  if (notes.length) process.stdout.write(`\nnotes:\n${notes.map((n) => `  - ${n}`).join('\n')}\n`);
  if (opts.save) {
    const dir = path.join(BENCH, 'results');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${name}-${opts.size}.jsonl`);
    writeFileSync(file, [JSON.stringify({ ...meta, notes }), ...all.map((r) => JSON.stringify(r))].join('\n') + '\n');
    log(`saved ${path.relative(ROOT, file)}`);
    if (name === 'fanout') {
      const svg = fanoutSvg(agg, {
        title: `Fan-out on one channel (${opts.size} size)`,
        subtitle: `${meta.machine.nproc} cores, Node ${meta.machine.node}, ${meta.machine.date.slice(0, 10)}; server and load generator on the same machine`,
      });
      const svgFile = path.join(dir, `fanout-${opts.size}.svg`);
      writeFileSync(svgFile, svg);
      log(`saved ${path.relative(ROOT, svgFile)}`);
    }
    if (name === 'scale') {
      const { scaleSvg } = await import('./lib/scale-chart.mjs');
      const svgFile = path.join(dir, `scale-${opts.size}.svg`);
      writeFileSync(
        svgFile,
        scaleSvg(all, {
          title: `A cluster under load, with faults (${opts.size} size)`,
          subtitle: `${meta.machine.nproc} cores, Node ${meta.machine.node}, ${meta.machine.date.slice(0, 10)}; every gateway, Redis and the load generator on the same machine`,
        }),
      );
      log(`saved ${path.relative(ROOT, svgFile)}`);
    }
  }
  return { meta, rows: all, notes };
}

const opts = parseArgs(process.argv.slice(2));
const cmd = opts._[0];
if (!cmd || opts.help) {
  process.stdout.write(
    readFileSync(fileURLToPath(import.meta.url), 'utf8')
      .split('\n')
      .slice(1)
      .filter((l, i, a) => a.slice(0, i + 1).every((q) => q.startsWith('//')))
      .map((l) => l.replace(/^\/\/ ?/, ''))
      .join('\n') + '\n',
  );
  await exitWhenFlushed(cmd ? 0 : 1);
}
if (cmd === 'list') {
  for (const s of SCENARIOS) {
    const sc = (await import(`./scenarios/${s}.mjs`)).default;
    process.stdout.write(`${s.padEnd(16)} ${sc.description}\n`);
  }
  await exitWhenFlushed(0);
}
if (cmd === 'perf-breakdown') {
  const { perfBreakdown } = await import('./lib/perf-breakdown.mjs');
  process.stdout.write(perfBreakdown(readFileSync(0, 'utf8'), Number(opts._[1] ?? 0)));
  await exitWhenFlushed(0);
}
if (cmd === 'cpuprofile-top') {
  if (!opts._[1]) throw new Error('cpuprofile-top needs a .cpuprofile file');
  const { cpuprofileTop } = await import('./lib/cpuprofile-top.mjs');
  process.stdout.write(cpuprofileTop(opts._[1], Number(opts._[2] ?? 25)));
  await exitWhenFlushed(0);
}
if (cmd === 'doc') {
  const { writeDoc } = await import('./lib/doc.mjs');
  const file = await writeDoc({ size: opts.size });
  log(`wrote ${path.relative(ROOT, file)}`);
  await exitWhenFlushed(0);
}
const names = cmd === 'all' ? SCENARIOS : [cmd];
for (const n of names)
  if (!SCENARIOS.includes(n)) throw new Error(`unknown scenario ${n}; one of ${SCENARIOS.join(', ')}, all, doc, list, perf-breakdown, cpuprofile-top`);
let failed = false;
for (const n of names) {
  try {
    await runScenario(n, opts);
  } catch (err) {
    failed = true;
    log(`${n} failed: ${err.stack ?? err}`);
  }
}
await exitWhenFlushed(failed ? 1 : 0);
