import { afterEach, describe, expect, it } from 'vitest';
import {
  command,
  startRedisCluster,
  connectPusherJs,
  redisPerFile,
  startAuthServer,
  startTestGateway,
  subscribeAndWait,
  uniquePrefix,
  XhrTestClient,
  type TestGateway,
} from '@herald/test-support';

/**
 * HTTP sessions behind a balancer without sticky sessions: each request of a session may reach
 * any gateway; the one that opened the session holds it and the others relay through Redis.
 */

const redisFile = redisPerFile();
const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

const APP = { id: '515', key: 'xhr-cluster-key', secret: '0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a' };

async function gateways(n: number) {
  const prefix = uniquePrefix();
  const gws: TestGateway[] = [];
  for (let i = 0; i < n; i++) {
    const t = await startTestGateway({ apps: [APP], nodeId: `x${i}-${prefix}`, redis: { url: redisFile.redis.url, prefix } });
    open.push(t);
    gws.push(t);
  }
  return gws;
}

const base = (t: TestGateway) => `http://127.0.0.1:${t.wsPort}`;

describe('HTTP sessions across gateways', () => {
  for (const mode of ['stream', 'poll'] as const) {
    it(`${mode}: a session whose requests alternate between two gateways subscribes, receives and sends client events`, async () => {
      const [a, b] = await gateways(2);
      const auth = await startAuthServer(a!.sdk);
      open.push(auth);
      const c = new XhrTestClient({ bases: [base(a!), base(b!)], key: APP.key, mode });
      open.push({ close: () => c.stop() });
      const socketId = await c.open();
      // Subscribe through the other gateway than the one that opened the session.
      expect(await c.send({ event: 'pusher:subscribe', data: { channel: 'news' } })).toBe(204);
      await c.waitFor((f) => f.event === 'pusher_internal:subscription_succeeded' && f.channel === 'news');
      for (let i = 1; i <= 20; i++) await (i % 2 === 0 ? a! : b!).sdk.trigger('news', 'tick', { i });
      await expect
        .poll(() => c.frames.filter((f) => f.event === 'tick').map((f) => (JSON.parse(f.data as string) as { i: number }).i))
        .toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      // Polls went to both gateways; sends alternate whatever the mode.
      expect(new Set(c.receives).size).toBe(mode === 'poll' ? 2 : 1);

      // Client events both ways with a WebSocket client on the other gateway, through the relay.
      const ws = connectPusherJs({ wsPort: a!.wsPort, app: APP }, { authEndpoint: auth.authEndpoint });
      open.push({ close: () => ws.disconnect() });
      const wsCh = await subscribeAndWait(ws, 'private-room');
      const wsGot: unknown[] = [];
      wsCh.bind('client-from-http', (d: unknown) => wsGot.push(d));
      const sig = a!.sdk.authorizeChannel(socketId, 'private-room');
      expect(await c.send({ event: 'pusher:subscribe', data: { channel: 'private-room', auth: sig.auth } })).toBe(204);
      await c.waitFor((f) => f.event === 'pusher_internal:subscription_succeeded' && f.channel === 'private-room');
      expect(await c.send({ event: 'client-from-http', channel: 'private-room', data: { n: 1 } })).toBe(204);
      await expect.poll(() => wsGot).toEqual([{ n: 1 }]);
      expect(wsCh.trigger('client-from-ws', { n: 2 })).toBe(true);
      await c.waitFor((f) => f.event === 'client-from-ws');
      expect(c.closed).toBeUndefined();
    });
  }

  it('a gateway that stops tells its sessions to reconnect (4200), wherever their poll is held', async () => {
    const [a, b] = await gateways(2);
    const c = new XhrTestClient({ bases: [base(a!), base(b!)], key: APP.key, mode: 'poll' });
    open.push({ close: () => c.stop() });
    await c.open();
    await a!.close();
    await expect.poll(() => c.closed?.code).toBe(4200);
    // Its entry is released: the next session with that id opens afresh on the other gateway.
    const again = new XhrTestClient({ bases: [base(b!)], key: APP.key, mode: 'poll', session: c.session });
    open.push({ close: () => again.stop() });
    await again.open();
    expect(again.lines[0]).toBe('o');
  });

  it('a request for a session held by a node that no longer answers ends with 1006 "Session lost"', async () => {
    const prefix = uniquePrefix();
    const b = await startTestGateway({
      apps: [APP],
      nodeId: `lone-${prefix}`,
      redis: { url: redisFile.redis.url, prefix },
      xhrTimers: { relayAnswerMs: 2000 },
    });
    open.push(b);
    const c = new XhrTestClient({ bases: [base(b)], key: APP.key, mode: 'stream' });
    open.push({ close: () => c.stop() });
    // As a SIGKILLed gateway leaves it: its session entries stay until they expire.
    await command(redisFile.redis, ['SET', `${prefix}:{xs:${APP.key}/${c.session}}`, 'ghost-node']);
    void c.open().catch(() => undefined);
    await expect.poll(() => c.closed).toEqual({ code: 1006, reason: 'Session lost' });
    expect(c.frames).toEqual([]);
  });

  it('on Redis Cluster: a polled session alternating between gateways (node messages on sharded pub/sub)', async () => {
    const cluster = await startRedisCluster();
    open.push({ close: () => cluster.stop() });
    const prefix = uniquePrefix();
    const gws: TestGateway[] = [];
    for (let i = 0; i < 2; i++) {
      const t = await startTestGateway({ apps: [APP], nodeId: `c${i}-${prefix}`, redis: { topology: { kind: 'cluster', nodes: cluster.nodes }, prefix } });
      open.push(t);
      gws.push(t);
    }
    const [a, b] = gws as [TestGateway, TestGateway];
    const c = new XhrTestClient({ bases: [base(a), base(b)], key: APP.key, mode: 'poll' });
    open.push({ close: () => c.stop() });
    await c.open();
    expect(await c.send({ event: 'pusher:subscribe', data: { channel: 'sharded' } })).toBe(204);
    await c.waitFor((f) => f.event === 'pusher_internal:subscription_succeeded');
    for (let i = 1; i <= 6; i++) await b.sdk.trigger('sharded', 'tick', { i });
    await expect.poll(() => c.frames.filter((f) => f.event === 'tick').length).toBe(6);
    expect(new Set(c.receives).size).toBe(2);
  });
});
