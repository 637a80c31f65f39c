/**
 * Pub/sub as the broker needs it. Single server and Sentinel use SUBSCRIBE/PUBLISH on a dedicated
 * subscriber connection; Redis Cluster uses sharded pub/sub (SSUBSCRIBE/SPUBLISH), so a channel's
 * messages stay on the shard that holds its keys instead of being broadcast to every node.
 */
export interface PubSubTransport {
  ready(): boolean;
  publish(topic: string, payload: string | Buffer): Promise<unknown>;
  /** The command `publish` sends, for Lua scripts that publish what they decide. */
  readonly publishCommand: 'PUBLISH' | 'SPUBLISH';
  subscribe(topics: string[]): Promise<void>;
  unsubscribe(topics: string[]): Promise<void>;
  onMessage(cb: (topic: string, payload: Buffer) => void): void;
  /** Called whenever the subscriber (re)connects. */
  onReady(cb: () => void): void;
  disconnect(): void;
}
