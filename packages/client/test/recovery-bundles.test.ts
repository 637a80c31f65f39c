import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PusherJs, type PusherClient } from '@herald/test-support';
import { build, distDir } from '../build.mjs';
import type { Push } from '../src/index.js';
import type { PushOptions } from '../src/push.js';
import type { enableRecovery } from '../src/pusher-recovery.js';
import { wsPushPlatform } from '@herald/test-support';
import { FakePusherServer } from './fake-pusher-server.js';

// Recovery in the built files: the four push.js bundles and both pusher-js plugin bundles, each
// through one reconnect (position sent, pusher:recovered, a stale duplicate dropped).

const EPOCH = 'abcdef12';

type PushClass = new (o: PushOptions) => Push;
type Enable = typeof enableRecovery;
interface BindableChannel {
  bind(event: string, fn: (data: unknown) => void): unknown;
}

let server: FakePusherServer;
const stops: Array<() => void> = [];

beforeAll(async () => {
  await build({ types: false });
  server = await FakePusherServer.start();
});
afterAll(async () => {
  for (const s of stops.splice(0)) s();
  await server.close();
});

const dist = (file: string) => join(distDir, file);
const importDist = async <T>(file: string) => (await import(/* @vite-ignore */ pathToFileURL(dist(file)).href)) as T;

/** Runs an IIFE bundle in a fresh global context and returns that context. */
async function runIife(file: string): Promise<Record<string, unknown>> {
  const sandbox: Record<string, unknown> = { setTimeout, clearTimeout, console };
  runInNewContext(await readFile(dist(file), 'utf8'), sandbox);
  return sandbox;
}

/** One reconnect on a fresh connection pair; `subscribe` is called once connected. */
async function scenario(channelName: string, subscribe: () => BindableChannel): Promise<void> {
  const first = server.conns.length;
  const ch = subscribe();
  const log: unknown[] = [];
  ch.bind('pusher:recovered', (d) => log.push(['recovered', d]));
  ch.bind('n', (d) => log.push(d));
  const c0 = await server.conn(first);
  expect((await c0.subscribeOf(channelName)).position).toBeUndefined();
  c0.succeed(channelName, { position: `${EPOCH}:1` });
  c0.event(channelName, 'n', 2, `${EPOCH}:2`);
  await expect.poll(() => log.length).toBe(1);
  c0.drop();
  const c1 = await server.conn(first + 1);
  expect((await c1.subscribeOf(channelName)).position).toBe(`${EPOCH}:2`);
  c1.succeed(channelName, { position: `${EPOCH}:3`, recovery: { recovered: true } });
  c1.event(channelName, 'n', 2, `${EPOCH}:2`); // stale
  c1.event(channelName, 'n', 3, `${EPOCH}:3`);
  await expect.poll(() => log.length).toBe(3);
  expect(log).toEqual([2, ['recovered', { position: `${EPOCH}:2` }], 3]);
}

function pushScenario(PushCtor: PushClass, channelName: string) {
  const push = new PushCtor({ url: server.url, app_key: 'key', platform: wsPushPlatform, reconnect: { minDelayMs: 10, maxDelayMs: 50 } });
  stops.push(() => push.disconnect());
  return scenario(channelName, () => push.subscribe(channelName));
}

function pusherScenario(enable: Enable, channelName: string) {
  const pusher: PusherClient = new PusherJs('key', {
    cluster: '',
    wsHost: '127.0.0.1',
    wsPort: server.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
  });
  stops.push(() => pusher.disconnect());
  enable(pusher);
  return scenario(channelName, () => pusher.subscribe(channelName));
}

describe('recovery in the built bundles', () => {
  it('push.js (IIFE, global Push)', async () => {
    const g = await runIife('push.js');
    await pushScenario(g.Push as PushClass, 'iife');
  });

  it('push.esm.js', async () => {
    await pushScenario((await importDist<{ Push: PushClass }>('push.esm.js')).Push, 'esm');
  });

  it('push-uniapp.js (default export)', async () => {
    await pushScenario((await importDist<{ default: PushClass }>('push-uniapp.js')).default, 'uniapp');
  });

  it('push-vue.js', async () => {
    await pushScenario((await importDist<{ Push: PushClass }>('push-vue.js')).Push, 'vue');
  });

  it('pusher-recovery.js (ESM) with pusher-js', async () => {
    await pusherScenario((await importDist<{ enableRecovery: Enable }>('pusher-recovery.js')).enableRecovery, 'plugin-esm');
  });

  it('pusher-recovery.iife.js (global HeraldRecovery) with pusher-js', async () => {
    const g = await runIife('pusher-recovery.iife.js');
    const api = g.HeraldRecovery as { enableRecovery: Enable; RECOVERED_EVENT: string; RECOVERY_FAILED_EVENT: string };
    expect([api.RECOVERED_EVENT, api.RECOVERY_FAILED_EVENT]).toEqual(['pusher:recovered', 'pusher:recovery_failed']);
    await pusherScenario(api.enableRecovery, 'plugin-iife');
  });
});
