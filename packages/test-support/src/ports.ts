import { createServer } from 'node:net';

/**
 * Ports for the servers tests start (gateways, redis-server, nginx, receivers), one function for
 * every harness. A port taken with `listen(0)` and released comes from the kernel's ephemeral range
 * (32768-60999 on Linux), which outgoing connections share: with thousands of client sockets open
 * across the parallel test files, one of them can take the port between the pick and the child
 * process's own listen (EADDRINUSE in CI). So ports are picked below that range instead, where
 * the kernel never assigns a source port, from a band of its own per vitest worker (so two test
 * files never pick the same one) and checked by binding before they are handed out.
 *
 * Test runs on one machine at the same time (several developers, or CI next to one) would all
 * start at the same band, and one run could take a port another had picked and not yet bound (a
 * gateway starting, a browser launching in between). So each run starts at a band of its own,
 * chosen by the id of its vitest main process (the parent of the forked workers): two runs share a
 * band once in 16.
 */
const LOW = 12_000;
const HIGH = 32_000;
const BANDS = 16;
const BAND = Math.floor((HIGH - LOW) / BANDS);

const worker = Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? 1);
const run = process.ppid % BANDS;
const bandStart = LOW + ((run + (Number.isFinite(worker) ? worker - 1 : 0)) % BANDS) * BAND;
/** A random start within the band: two runs on one machine rarely walk the same ports. */
let offset = Math.floor(Math.random() * BAND);

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.unref();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let tries = 0; tries < BAND; tries++) {
    const port = bandStart + (offset++ % BAND);
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port in ${bandStart}-${bandStart + BAND - 1}`);
}
