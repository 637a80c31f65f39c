import { describe, expect, it } from 'vitest';
import { createRedisConnections } from '../src/index.js';
import { startRedisCluster } from '@herald/test-support';

/** 1 when `p` has not settled within `ms` (a hang: the regression never answered), else 0. Generous for a busy machine. */
const hung = (p: Promise<unknown>, ms = 15_000) =>
  Promise.race([
    p.then(
      () => 0,
      () => 0,
    ),
    new Promise<number>((r) => setTimeout(() => r(1), ms).unref()),
  ]);

describe('Redis Cluster sharded pub/sub (createRedisConnections)', () => {
  // Regression: ioredis auto-pipelined SSUBSCRIBE/SUNSUBSCRIBE issued in the same tick as other
  // commands onto a node's command connection, which then entered subscriber mode: the calls and
  // every later command on that node hung (a gateway stopped leaving channels, then lost its lease).
  it('concurrent subscribes, unsubscribes and commands on every shard all answer, and messages flow', { timeout: 90_000 }, async () => {
    await using rc = await startRedisCluster();
    const conn = createRedisConnections({ topology: { kind: 'cluster', nodes: rc.nodes } }, () => undefined);
    await conn.connect();
    const received: string[] = [];
    conn.pubsub.onMessage((topic) => received.push(topic));
    try {
      const topics = Array.from({ length: 12 }, (_, i) => `{app:chan-${i}}:t`);
      for (let round = 0; round < 3; round++) {
        const a = [hung(conn.pubsub.subscribe(topics)), ...topics.map((t, i) => hung(conn.client.set(`${t}:k${i}`, String(round))))];
        expect((await Promise.all(a)).reduce((x, y) => x + y, 0)).toBe(0);
        for (const t of topics) await conn.pubsub.publish(t, `m${round}`);
        await expect.poll(() => received.length).toBe(12 * (round + 1));
        const b = [hung(conn.pubsub.unsubscribe(topics)), ...topics.map((t, i) => hung(conn.client.get(`${t}:k${i}`)))];
        expect((await Promise.all(b)).reduce((x, y) => x + y, 0)).toBe(0);
      }
      // Unsubscribed: nothing more arrives, and plain commands still answer on every shard.
      for (const t of topics) await conn.pubsub.publish(t, 'late');
      for (const [i, t] of topics.entries()) expect(await conn.client.get(`${t}:k${i}`)).toBe('2');
      expect(received.length).toBe(36);
    } finally {
      conn.disconnect();
    }
  });
});
