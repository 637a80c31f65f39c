import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      '@herald/protocol': src('protocol'),
      '@herald/broker': src('broker'),
      '@herald/config': src('config'),
      '@herald/webhook-worker': src('webhook-worker'),
      '@herald/gateway': src('gateway'),
      '@herald/sdk': src('sdk'),
      '@herald/client': src('client'),
    },
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
