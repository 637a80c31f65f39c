import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { startRedis, startRedisCluster, startSentinelSet, uniquePrefix } from '../src/index.js';

/** ioredis reports connection errors as events; the tests observe them through state instead. */
const quiet = <T extends Redis | Cluster>(client: T): T => {
  client.on('error', () => undefined);
  return client;
};

describe('Redis fixture: single server', () => {
  it('starts a server that answers PING via ioredis', async () => {
    await using redis = await startRedis();
    expect(redis.url).toBe(`redis://${redis.host}:${redis.port}`);
    expect(redis.isRunning()).toBe(true);
    const client = quiet(new Redis(redis.url));
    try {
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
    }
  });

  it('kill() drops the connection of a connected client', async () => {
    await using redis = await startRedis();
    const client = quiet(new Redis(redis.url, { retryStrategy: () => null }));
    let closed = false;
    client.on('close', () => (closed = true));
    try {
      expect(await client.ping()).toBe('PONG');
      await redis.kill();
      expect(redis.isRunning()).toBe(false);
      await expect.poll(() => closed).toBe(true);
      expect(client.status).not.toBe('ready');
    } finally {
      client.disconnect();
    }
  });

  it('restart() comes back on the same port, empty, and a client reconnects', async () => {
    await using redis = await startRedis();
    const port = redis.port;
    const key = `${uniquePrefix()}:k`;
    const client = quiet(new Redis(redis.url, { retryStrategy: () => 50, maxRetriesPerRequest: 1 }));
    try {
      await client.set(key, 'before');
      await redis.kill();
      await redis.restart();
      expect(redis.port).toBe(port);
      expect(redis.isRunning()).toBe(true);

      const fresh = quiet(new Redis(redis.url));
      try {
        expect(await fresh.ping()).toBe('PONG');
        expect(await fresh.get(key)).toBeNull();
      } finally {
        fresh.disconnect();
      }
      // the client from before the crash finds the server again on its own
      await expect.poll(() => client.ping().catch((e: Error) => e.message)).toBe('PONG');

      // a graceful restart of a running server behaves the same
      await client.set(key, 'again');
      await redis.restart();
      expect(redis.port).toBe(port);
      await expect.poll(() => client.ping().catch((e: Error) => e.message)).toBe('PONG');
      expect(await client.get(key)).toBeNull();
    } finally {
      client.disconnect();
    }
  });

  it('runs two independent servers at once on different ports', async () => {
    await using a = await startRedis();
    await using b = await startRedis();
    expect(a.port).not.toBe(b.port);
    const key = `${uniquePrefix()}:k`;
    const ca = quiet(new Redis(a.url));
    const cb = quiet(new Redis(b.url));
    try {
      await ca.set(key, 'a');
      expect(await ca.get(key)).toBe('a');
      expect(await cb.get(key)).toBeNull();
    } finally {
      ca.disconnect();
      cb.disconnect();
    }
  });

  it('requires the password when one is set, and the url carries it', async () => {
    await using redis = await startRedis({ password: 's3cret/x' });
    const authed = quiet(new Redis(redis.url));
    const anon = quiet(new Redis({ host: redis.host, port: redis.port, enableReadyCheck: false, retryStrategy: () => null }));
    try {
      expect(await authed.ping()).toBe('PONG');
      await expect(anon.get('x')).rejects.toThrow(/NOAUTH/);
    } finally {
      authed.disconnect();
      anon.disconnect();
    }
  });

  it('stop() shuts the server down and is idempotent', async () => {
    const redis = await startRedis();
    await redis.stop();
    expect(redis.isRunning()).toBe(false);
    await redis.stop();
  });
});

describe('Redis fixture: Sentinel', () => {
  it('serves a sentinel-configured client before and after a failover', async () => {
    await using set = await startSentinelSet();
    expect(set.name).toBe('herald-primary');
    expect(set.sentinels).toHaveLength(3);
    const key = `${uniquePrefix()}:k`;
    // failoverDetector: follow +switch-master at once instead of waiting for the old primary to be demoted
    const client = quiet(new Redis({ sentinels: set.sentinels.map(({ host, port }) => ({ host, port })), name: set.name, failoverDetector: true }));
    const direct = quiet(new Redis(set.replica.url));
    try {
      await client.set(key, 'before');
      expect(await client.get(key)).toBe('before');

      await set.failover();

      // the write lands on the former replica, now primary: the client really moved
      await expect
        .poll(
          async () => {
            try {
              await client.set(key, 'after');
              return await direct.get(key);
            } catch (e) {
              return (e as Error).message;
            }
          },
          { timeout: 15_000 },
        )
        .toBe('after');
      expect(await client.get(key)).toBe('after');
    } finally {
      client.disconnect();
      direct.disconnect();
    }
  }, 25_000);
});

describe('Redis fixture: Cluster', () => {
  it('serves keys on different slots and sharded pub/sub to an ioredis Cluster client', async () => {
    await using cluster = await startRedisCluster();
    expect(cluster.nodes).toHaveLength(6);
    const prefix = uniquePrefix();
    const client = quiet(new Cluster(cluster.nodes));
    const sub = quiet(new Cluster(cluster.nodes, { shardedSubscribers: true }));
    try {
      // hash tags make the slots deterministic while the prefix keeps keys unique
      const keys = Array.from({ length: 12 }, (_, i) => `${prefix}:{${i}}`);
      for (const key of keys) await client.set(key, key);
      for (const key of keys) expect(await client.get(key)).toBe(key);
      const slots = new Set(await Promise.all(keys.map((k) => client.cluster('KEYSLOT', k))));
      expect(slots.size).toBe(keys.length);
      const perPrimary = await Promise.all(client.nodes('master').map((n) => n.dbsize()));
      expect(perPrimary).toHaveLength(3);
      for (const n of perPrimary) expect(n).toBeGreaterThan(0);

      const channel = `${prefix}:ch`;
      const got: string[] = [];
      sub.on('smessage', (ch: string, message: string) => {
        if (ch === channel) got.push(message);
      });
      await sub.ssubscribe(channel);
      expect(await client.spublish(channel, 'hello')).toBe(1);
      await expect.poll(() => got).toEqual(['hello']);
    } finally {
      client.disconnect();
      sub.disconnect();
    }
  }, 25_000);
});
