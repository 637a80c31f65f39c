import type { RedisKeys } from './keys.js';
import type { PubSubTransport } from './pubsub-transport.js';
import type { RedisClient } from './redis-client.js';
import type { StateScripts } from './state-scripts.js';

/** What the Redis stores share: one command connection, the key builder and the scripts. */
export interface RedisStoreDeps {
  client: RedisClient;
  keys: RedisKeys;
  scripts: StateScripts;
  /** This node: its contributions are recorded under it. */
  nodeId: string;
  /** How the presence scripts publish the member events they decide (PUBLISH, or SPUBLISH). */
  pubsub: Pick<PubSubTransport, 'publish' | 'publishCommand'>;
}

/** Replies of the channel scripts: `[changed 0|1, count]`. */
export const pair = (r: unknown) => r as [number, number];
