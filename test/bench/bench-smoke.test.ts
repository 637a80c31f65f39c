import { describe, expect, it } from 'vitest';
import { runBench } from './run-bench.js';

/**
 * Every benchmark scenario runs from this checkout (the built gateway, the bare uWebSockets.js
 * ceiling, a private redis-server for the clustered ones) at a tiny size, without saving results:
 * `npm run bench -- <scenario>` keeps working on a fresh clone. soketi is left out here (it is
 * installed from npm at run time); the figures themselves come from `npm run bench`, not from CI.
 */
interface Row {
  scenario: string;
  server: string;
  phase?: string;
  loss?: number;
  vsCeiling?: { of: string };
  [k: string]: unknown;
}

async function bench(scenario: string, sets: Record<string, unknown>, servers = 'herald,ceiling'): Promise<{ rows: Row[]; out: string; code: number | null }> {
  const args = [scenario, '--servers', servers, '--runs', '1', '--no-save'];
  for (const [k, v] of Object.entries(sets)) args.push('--set', `${k}=${JSON.stringify(v)}`);
  const r = await runBench(args);
  return { ...r, rows: r.rows as Row[] };
}

describe('npm run bench at a tiny size', { timeout: 120_000 }, () => {
  it.each([
    ['fanout', { subs: [40], phaseMs: 600, windowDeliveries: 2000 }, ['herald', 'ceiling']],
    ['many-channels', { conns: 60, rate: 50, sharedEvery: 20, phaseMs: 600 }, ['herald', 'ceiling']],
    ['connections', { counts: [150], settleMs: 300 }, ['herald', 'ceiling']],
    ['client-events', { pairs: 10, phaseMs: 600 }, ['herald', 'ceiling']],
    ['cluster', { subs: 30, nodes: [1, 2], phaseMs: 600, idleMs: 300 }, ['herald', 'herald-c1', 'herald-c2', 'ceiling']],
    ['presence-churn', { channels: 2, observers: 1, churners: 8, phaseMs: 600 }, ['herald', 'herald-c2', 'ceiling']],
  ] as const)('%s prints a JSON line per server with ratios to the ceiling, and loses nothing at a fixed rate', async (scenario, sets, servers) => {
    const { rows, out, code } = await bench(scenario, sets);
    expect(code, out.slice(-3000)).toBe(0);
    expect(new Set(rows.map((r) => r.server)), out.slice(-3000)).toEqual(new Set(servers));
    for (const r of rows) {
      expect(r.scenario).toBe(scenario);
      // Open-loop fixed rates must lose nothing; the closed-loop maximum rate writes off what is owed
      // after a full second without progress, which a machine busy with other tests can cause.
      if (typeof r.loss === 'number') expect(r.loss, `${r.server} ${r.phase ?? ''}`).toBeLessThanOrEqual(r.phase === 'max' ? 0.01 : 0);
      if (r.server === 'herald') expect(r.vsCeiling?.of).toBe('ceiling');
    }
    // The table follows the JSON lines.
    expect(out).toContain(`${scenario} (small`);
  });

  it('http-fallback delivers over WebSocket, HTTP streaming and long polling, each HTTP row with its ratios to WebSocket', async () => {
    // The fixed rate only: the maximum rate's closed loop is fanout's, tested above.
    const { rows, out, code } = await bench('http-fallback', { subs: 20, phaseMs: 400, phases: ['fixed'] }, 'herald');
    expect(code, out.slice(-3000)).toBe(0);
    expect(new Set(rows.map((r) => r.transport)), out.slice(-3000)).toEqual(new Set(['ws', 'xhr_streaming', 'xhr']));
    for (const r of rows) {
      expect(r.connected, `${String(r.transport)} ${r.phase ?? ''}`).toBe(20);
      expect(r.phase).toBe('fixed');
      expect(r.loss, String(r.transport)).toBe(0);
      if (r.transport !== 'ws') expect(r.vsWs).toMatchObject({ cpu: expect.any(Number), tput: expect.any(Number), of: 'ws' });
    }
    expect(out).toContain('http-fallback (small');
  });

  it('apps compares 1 app with N apps in the store and times every admin change until the other gateways apply it', async () => {
    const sets = { apps: 200, subs: 40, conns: 60, sharedEvery: 20, phaseMs: 400, warmupMs: 0, rounds: 1, idleMs: 500, changes: 20, changeGapMs: 0 };
    const { rows, out, code } = await bench('apps', sets, 'herald');
    expect(code, out.slice(-3000)).toBe(0);
    for (const test of ['fanout', 'triggers']) {
      const one = rows.find((r) => r.group === test && r.apps === 1);
      const many = rows.find((r) => r.group === test && r.apps === 200);
      expect(one?.loss, `${test} 1 app: ${out.slice(-3000)}`).toBeLessThanOrEqual(0.01);
      expect(many?.loss, `${test} 200 apps`).toBeLessThanOrEqual(0.01);
      expect(many?.vsOneApp).toMatchObject({ tput: expect.any(Number), cpu: expect.any(Number), of: '1 app' });
    }
    expect(rows.filter((r) => r.group === 'resync').map((r) => r.apps)).toEqual(expect.arrayContaining([1, 200]));
    // Every change reached both other gateways (the figures themselves come from npm run bench).
    const prop = rows.find((r) => r.group === 'propagation');
    expect(prop, out.slice(-3000)).toMatchObject({ nodes: 3, changes: 20, notApplied: 0 });
    expect((prop?.fromAnswerMs as unknown[]).every((v) => typeof v === 'number')).toBe(true);
    expect(out).toContain('Change propagation');
  });
});
