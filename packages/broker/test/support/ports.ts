import { createServer } from 'node:net';

/**
 * Ports for the servers tests start (gateways, redis-server, nginx, receivers), one function for
 * every harness. A port taken with `listen(0)` and released comes from the kernel's ephemeral range
 * (32768-60999 on Linux), which outgoing connections share: with thousands of client sockets open
 * across the parallel test files, one of them can take the port between the pick and the child
 * process's own listen (EADDRINUSE in CI). So ports are picked below that range instead, where
 * the kernel never assigns a source port, from a band of its own per vitest worker (so two test
 * files never pick the same one) and checked by binding before they are handed out.
 */
const LOW = 12_000;
const HIGH = 32_000;
const BANDS = 16;
const BAND = Math.floor((HIGH - LOW) / BANDS);

const worker = Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? 1);
const bandStart = LOW + ((Number.isFinite(worker) ? worker - 1 : 0) % BANDS) * BAND;
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
