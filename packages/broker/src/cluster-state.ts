import type { Broker } from './broker.js';
import type { CacheStore } from './cache-store.js';
import type { ChannelStore } from './channel-store.js';
import type { HistoryStore } from './history-store.js';
import type { PresenceChannelStore } from './presence-channel-store.js';
import type { PresenceMember, PresenceStore } from './presence-store.js';
import type { UsageCounters } from './usage-counters.js';
import type { SessionLink } from './session-link.js';
import type { UserStore } from './user-store.js';

/** What one local socket holds in the shared state; used to re-register after a Redis outage. */
export type LocalContribution =
  | { kind: 'subscription'; appId: string; channel: string; socketId: string }
  | { kind: 'presence'; appId: string; channel: string; socketId: string; member: PresenceMember }
  | { kind: 'user'; appId: string; userId: string; socketId: string };

/** Everything a gateway needs from the cluster, in one bundle created by a factory per mode. */
export interface ClusterState {
  broker: Broker;
  channels: ChannelStore;
  presence: PresenceStore;
  presenceChannels: PresenceChannelStore;
  users: UserStore;
  cache: CacheStore;
  /** Message recovery's reads; publications keep history through the broker (Publication.history). */
  history: HistoryStore;
  /** False while the shared store is unreachable (clustered mode); `/ready` answers 503 then. */
  isReady(): boolean;
  /**
   * Runs `cb` each time the shared state is back after being unreachable, once this node's local
   * state is registered again in it: answers given as partial meanwhile can be completed then.
   * Memory state is never unreachable and never calls it.
   */
  onRecovered(cb: () => void): void;
  /**
   * Registers how to list this node's local state. After a lost connection comes back (the store
   * possibly restarted empty), the state re-registers it and publishes the member and user events
   * that the outage hid. Memory state never needs it.
   */
  setLocalState(list: () => LocalContribution[]): void;
  usage: UsageCounters;
  /** HTTP sessions across nodes (clustered mode); unset: this node holds every session. */
  sessions?: SessionLink;
  /** Figures for metrics (clustered mode). */
  stats?(): ClusterStats;
  close(): Promise<void>;
}

export interface ClusterStats {
  /** Round trip of the last lease renewal, ms. */
  redisRttMs: number;
  /** Times the Redis connection came back after a loss. */
  reconnects: number;
  /** Ms since the lease was last renewed (-1 before the first renewal). */
  leaseAgeMs: number;
  /** Renewals that found the lease lapsed (expired or gone): this node's state was registered again. */
  leaseLapses: number;
  /** Channel topics this node is subscribed to. */
  topics: number;
  /** Publications sent to Redis, and received from it. */
  published: number;
  received: number;
}
