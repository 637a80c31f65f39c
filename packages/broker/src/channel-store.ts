/**
 * What a write did. `partial`: the shared state was unreachable, so the write was skipped (the
 * node registers its local state again once the store is back) and `count` is not the cluster's.
 */
export interface ChannelChange {
  count: number;
  partial?: boolean;
}

/**
 * Subscription counts per channel, cluster-wide, keyed by socket so a repeat is not counted twice
 * (join and leave are idempotent per socket). The gateway calls join for every subscription and
 * leave when it ends, on the node that holds the socket. Reads throw StateUnavailableError while
 * the shared state is unreachable.
 */
export interface ChannelStore {
  /** Adds the socket; `count` is the channel's subscription count afterwards, `added` false if already in. */
  join(appId: string, channel: string, socketId: string): Promise<ChannelChange & { added: boolean }>;
  /** Removes the socket; `removed` false if it was not in. */
  leave(appId: string, channel: string, socketId: string): Promise<ChannelChange & { removed: boolean }>;
  count(appId: string, channel: string): Promise<number>;
  /** Occupied channels (count ≥ 1) and their counts, optionally filtered by name prefix. */
  channels(appId: string, prefix?: string): Promise<Map<string, number>>;
}
