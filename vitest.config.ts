import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      '@herald/protocol': src('protocol'),
      '@herald/config': src('config'),
      '@herald/apps': src('apps'),
      '@herald/logger': src('logger'),
      '@herald/broker': src('broker'),
      '@herald/webhooks': src('webhooks'),
      '@herald/webhook-worker': src('webhook-worker'),
      '@herald/gateway': src('gateway'),
      '@herald/sdk': src('sdk'),
      // the plugin's own entry (listed before '@herald/client', which would otherwise take the subpath)
      '@herald/client/pusher-recovery': fileURLToPath(new URL('./packages/client/src/pusher-recovery.ts', import.meta.url)),
      '@herald/client': src('client'),
      '@herald/test-support': src('test-support'),
    },
  },
  test: {
    projects: [
      // Unit tests (no network, no process, no Redis; fake timers and stubs restored after each
      // test) share one process instead of a fresh one per file: starting those was most of their
      // time (about 33 s -> 8 s for the 49 files).
      { extends: true, test: { name: 'unit', include: ['packages/*/src/**/*.test.ts'], isolate: false, poolOptions: { forks: { singleFork: true } } } },
      // Everything else starts servers and registers process-wide clean-ups per file
      // (test-support's node-process.ts): one process per file, as before.
      { extends: true, test: { name: 'integration', include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'] } },
    ],
    // Deadlines are backstops for a hung test, not measurements: a busy CI machine (another
    // process keeping a core busy) must not fail a test that would pass given a few more seconds.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // expect.poll waits for a condition; its 1 s default is a tight deadline in disguise.
    expect: { poll: { timeout: 15_000, interval: 50 } },
    pool: 'forks',
  },
});
