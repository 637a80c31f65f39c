import { Cluster, type Redis } from 'ioredis';
import type { RedisClient, RedisKeys } from '@herald/broker';
import type { WebhookLogger } from './types.js';

/** Flags the worker needs in `notify-keyspace-events`: keyspace events (K) for hash (h) and generic (g) commands. */
export const REQUIRED_KEYSPACE_FLAGS = 'Khg';

export class KeyspaceConfigError extends Error {
  override readonly name = 'KeyspaceConfigError';
  readonly code = 'PUSH_ERR_KEYSPACE_EVENTS';
}

const missingFlags = (current: string) => {
  const has = (f: string) => current.includes(f) || (f !== 'K' && f !== 'E' && current.includes('A'));
  return [...REQUIRED_KEYSPACE_FLAGS].filter((f) => !has(f));
};

/** The primaries to talk to: each master of a Redis Cluster, or the one server. */
export function primaries(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

/**
 * Makes sure every primary publishes the keyspace events the worker consumes. Enables the missing
 * flags with CONFIG SET (keeping the ones already set); where CONFIG is forbidden (managed Redis,
 * `rename-command CONFIG ""`), refuses to start and says what to configure.
 */
export async function ensureKeyspaceEvents(client: RedisClient, log: WebhookLogger): Promise<void> {
  for (const node of primaries(client)) {
    const where = `${node.options.host ?? '?'}:${node.options.port ?? '?'}`;
    let current: string;
    try {
      const r = (await node.config('GET', 'notify-keyspace-events')) as string[];
      current = r[1] ?? '';
    } catch (err) {
      throw new KeyspaceConfigError(
        `cannot read notify-keyspace-events on ${where} (${(err as Error).message}); CONFIG is probably disabled. ` +
          `Set notify-keyspace-events to include "${REQUIRED_KEYSPACE_FLAGS}" in the Redis configuration (for example: notify-keyspace-events ${REQUIRED_KEYSPACE_FLAGS}), then start the worker again.`,
      );
    }
    const missing = missingFlags(current);
    if (missing.length === 0) continue;
    const wanted = current + missing.join('');
    try {
      await node.config('SET', 'notify-keyspace-events', wanted);
      log.info({ redis: where, from: current, to: wanted }, 'enabled keyspace notifications');
    } catch (err) {
      throw new KeyspaceConfigError(
        `notify-keyspace-events on ${where} is "${current}" and lacks "${missing.join('')}", and CONFIG SET failed (${(err as Error).message}). ` +
          `Set notify-keyspace-events to include "${REQUIRED_KEYSPACE_FLAGS}" in the Redis configuration, then start the worker again.`,
      );
    }
  }
}

/**
 * Subscribes to the keyspace events of occupancy and presence keys on every primary, and follows
 * Redis Cluster topology changes. Calls `onKey` with the changed key (without the keyspace prefix).
 */
export class KeyspaceSubscriber {
  readonly #subs = new Map<string, Redis>();
  #onReady: () => void = () => undefined;

  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
    private readonly onKey: (key: string) => void,
    private readonly log: WebhookLogger,
  ) {}

  /** Called when a subscriber (re)connects: the worker reconciles, since events were lost meanwhile. */
  onReady(cb: () => void): void {
    this.#onReady = cb;
  }

  async start(): Promise<void> {
    await this.#sync();
    if (this.client instanceof Cluster) {
      const resync = () =>
        void this.#sync().catch((err: Error) => this.log.warn({ err: err.message }, 'keyspace subscriber resync failed'));
      this.client.on('+node', resync);
      this.client.on('-node', resync);
      this.client.on('refresh', resync);
    }
  }

  async #sync(): Promise<void> {
    const nodes = primaries(this.client);
    const wanted = new Map<string, Redis>(nodes.map((n) => [`${n.options.host}:${n.options.port}`, n]));
    for (const [id, sub] of this.#subs) {
      if (!wanted.has(id)) {
        sub.disconnect();
        this.#subs.delete(id);
      }
    }
    for (const [id, node] of wanted) {
      if (this.#subs.has(id)) continue;
      const sub = node.duplicate({ enableOfflineQueue: true, lazyConnect: false });
      this.#subs.set(id, sub);
      sub.on('error', (err: Error) => this.log.debug({ redis: id, err: err.message }, 'keyspace subscriber error'));
      sub.on('pmessage', (_pattern: string, channel: string) => this.onKey(channel.slice(channel.indexOf('__:') + 3)));
      let first = true;
      sub.on('ready', () => {
        if (first) {
          first = false;
          return;
        }
        this.log.info({ redis: id }, 'keyspace subscriber reconnected: reconciling');
        this.#onReady();
      });
      await sub.psubscribe(...this.keys.keyspacePatterns());
    }
  }

  get ready(): boolean {
    return this.#subs.size > 0 && [...this.#subs.values()].every((s) => s.status === 'ready');
  }

  close(): void {
    for (const s of this.#subs.values()) s.disconnect();
    this.#subs.clear();
  }
}

/** Every channel that has occupancy, presence or webhook bookkeeping in Redis, on every primary. */
export async function scanChannels(client: RedisClient, keys: RedisKeys): Promise<Map<string, { appId: string; channel: string }>> {
  const out = new Map<string, { appId: string; channel: string }>();
  for (const node of primaries(client)) {
    for (const suffix of ['subs', 'members', 'wh', 'whq']) {
      let cursor = '0';
      do {
        const [next, found] = await node.scan(cursor, 'MATCH', `${keys.prefix}:{*}:${suffix}`, 'COUNT', 1000);
        cursor = next;
        for (const key of found) {
          const p = keys.parseChannelKey(key);
          if (p !== undefined) out.set(`${p.appId}\n${p.channel}`, { appId: p.appId, channel: p.channel });
        }
      } while (cursor !== '0');
    }
  }
  return out;
}
