import type { SessionLink } from '../session-link.js';
import { SESSION_ENTRY_TTL_MS } from '../session-link.js';
import type { RedisKeys } from './keys.js';
import type { PubSubTransport } from './pubsub-transport.js';
import type { RedisClient } from './redis-client.js';

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** Holder entries are strings `{prefix}:{xs:<session>}` (each on its own slot); messages go to the node's topic. */
export class RedisSessionLink implements SessionLink {
  constructor(
    readonly nodeId: string,
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
    private readonly pubsub: PubSubTransport,
  ) {}

  async claim(sessionId: string): Promise<string> {
    const key = this.keys.sessionHolder(sessionId);
    for (let attempt = 0; attempt < 3; attempt++) {
      const set = await this.client.set(key, this.nodeId, 'PX', SESSION_ENTRY_TTL_MS, 'NX');
      if (set === 'OK') return this.nodeId;
      const holder = await this.client.get(key);
      // Gone between the two commands (released or expired): claim again.
      if (holder !== null) return holder;
    }
    return this.nodeId;
  }

  async holder(sessionId: string): Promise<string | undefined> {
    return (await this.client.get(this.keys.sessionHolder(sessionId))) ?? undefined;
  }

  async release(sessionId: string): Promise<void> {
    await this.client.eval(RELEASE, 1, this.keys.sessionHolder(sessionId), this.nodeId);
  }

  async refresh(sessionIds: readonly string[]): Promise<void> {
    // One command per key: on Redis Cluster the keys live on different slots.
    await Promise.all(sessionIds.map((id) => this.client.pexpire(this.keys.sessionHolder(id), SESSION_ENTRY_TTL_MS)));
  }

  async sendToNode(nodeId: string, message: string): Promise<void> {
    await this.pubsub.publish(this.keys.nodeTopic(nodeId), message);
  }
}
