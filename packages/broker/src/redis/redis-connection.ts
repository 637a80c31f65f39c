import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '@herald/config';
import type { PubSubTransport } from './pubsub-transport.js';
import type { RedisClient } from './redis-client.js';

/**
 * Where and how to connect: the part of the parsed configuration the connections use. The
 * username and password are passed to every connection (Sentinel and Cluster; a URL carries its
 * own); `tls` turns on TLS to Redis (a `rediss://` URL turns it on by itself).
 */
export type RedisConnectOptions = Pick<RedisConfig, 'topology' | 'username' | 'password' | 'tls'>;

/** Reconnect forever, quickly at first; a gateway never gives up on Redis. */
const retryStrategy = (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000);

/**
 * Publications are written to the socket as they come, not auto-pipelined: ioredis holds an
 * auto-pipeline, with every payload queued in it, until Redis has answered all of it, and copies
 * the whole batch into one more buffer (or string) to write it. Under a burst of large events those
 * payloads and copies outlive V8's young generation, and the gateway's RSS grows by them until a
 * full GC.
 */
const PUBLISH_NOT_PIPELINED = ['publish', 'spublish'];

export interface RedisConnections {
  client: RedisClient;
  pubsub: PubSubTransport;
  connect(): Promise<void>;
  disconnect(): void;
  /** Both the command connection and the subscriber are up. */
  ready(): boolean;
  onLost(cb: () => void): void;
  onReady(cb: () => void): void;
}

export function createRedisConnections(opts: RedisConnectOptions, onError: (connection: string, err: Error) => void): RedisConnections {
  const auth: RedisOptions = {
    ...(opts.username ? { username: opts.username } : {}),
    ...(opts.password ? { password: opts.password } : {}),
    ...(opts.tls ? { tls: {} } : {}),
  };
  const base: RedisOptions = {
    retryStrategy,
    maxRetriesPerRequest: 1,
    enableAutoPipelining: true,
    autoPipeliningIgnoredCommands: PUBLISH_NOT_PIPELINED,
    lazyConnect: true,
  };
  const t = opts.topology;
  if (t.kind === 'cluster') {
    const clusterOpts: ClusterOptions = {
      shardedSubscribers: true,
      // The slot map is asked for every second (ioredis: every 5 s): after a shard's failover the
      // sharded subscriber moves to the promoted replica, and commands find it, that much sooner.
      slotsRefreshInterval: 1000,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      // ioredis 5 would auto-pipeline these onto a node's command connection (its list of commands
      // never auto-pipelined lacks them) instead of the sharded subscriber: that connection then
      // enters subscriber mode and every later command on it hangs.
      autoPipeliningIgnoredCommands: ['ssubscribe', 'sunsubscribe', ...PUBLISH_NOT_PIPELINED],
      lazyConnect: true,
      clusterRetryStrategy: retryStrategy,
      redisOptions: { ...auth, maxRetriesPerRequest: 1 },
    };
    const cluster = new Cluster(t.nodes, clusterOpts);
    cluster.on('error', (err: Error) => onError('cluster', err));
    const pubsub: PubSubTransport = {
      ready: () => cluster.status === 'ready',
      publish: (topic, payload) => cluster.spublish(topic, payload),
      publishCommand: 'SPUBLISH',
      // SSUBSCRIBE takes channels of one slot per call: one call per topic.
      subscribe: async (topics) => {
        await Promise.all(topics.map((topic) => cluster.ssubscribe(topic)));
      },
      unsubscribe: async (topics) => {
        await Promise.all(topics.map((topic) => cluster.sunsubscribe(topic)));
      },
      onMessage: (cb) => cluster.on('smessageBuffer', (topic: Buffer, payload: Buffer) => cb(topic.toString(), payload)),
      onReady: (cb) => cluster.on('ready', cb),
      disconnect: () => undefined,
    };
    return {
      client: cluster,
      pubsub,
      connect: () => cluster.connect(),
      disconnect: () => cluster.disconnect(),
      ready: () => cluster.status === 'ready',
      onLost: (cb) => cluster.on('close', cb),
      onReady: (cb) => cluster.on('ready', cb),
    };
  }
  const make = (): Redis =>
    t.kind === 'single'
      ? new Redis(t.url, { ...base, ...auth })
      : // failoverDetector: follow a failover at once, instead of writing to a demoted primary for seconds.
        new Redis({ ...base, ...auth, sentinels: t.sentinels, name: t.name, sentinelRetryStrategy: retryStrategy, failoverDetector: true });
  const client = make();
  client.options.enableOfflineQueue = false;
  const sub = make();
  client.on('error', (err: Error) => onError('command', err));
  sub.on('error', (err: Error) => onError('subscriber', err));
  const pubsub: PubSubTransport = {
    ready: () => sub.status === 'ready',
    publish: (topic, payload) => client.publish(topic, payload),
    publishCommand: 'PUBLISH',
    subscribe: async (topics) => {
      await sub.subscribe(...topics);
    },
    unsubscribe: async (topics) => {
      await sub.unsubscribe(...topics);
    },
    onMessage: (cb) => sub.on('messageBuffer', (topic: Buffer, payload: Buffer) => cb(topic.toString(), payload)),
    onReady: (cb) => sub.on('ready', cb),
    disconnect: () => sub.disconnect(),
  };
  return {
    client,
    pubsub,
    connect: async () => {
      await Promise.all([client.connect(), sub.connect()]);
    },
    disconnect: () => {
      sub.disconnect();
      client.disconnect();
    },
    ready: () => client.status === 'ready' && sub.status === 'ready',
    onLost: (cb) => client.on('close', cb),
    onReady: (cb) => client.on('ready', cb),
  };
}
