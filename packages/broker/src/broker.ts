/**
 * The gateway ↔ cluster boundary. The broker moves publications between nodes and keeps the
 * cluster-wide state (occupancy, presence, signed-in users, cache); it never sees a socket.
 * Every interface has a Memory* (embedded single node) and, from the clustered mode on, a Redis*
 * implementation, and both must pass the same contract suite.
 */

/** A frame to deliver to every local subscriber of `channel`, serialised once by the publisher. */
export interface Publication {
  appId: string;
  channel: string;
  /** The complete server→client frame; receivers hand these bytes to the sockets unparsed. */
  frame: string | Uint8Array;
  /** This socket does not receive the frame (REST `socket_id`, client-event sender, presence joiner). */
  exceptSocketId?: string;
}

/** Node-to-node commands that are not channel traffic. Add variants; never `any`. */
export type ControlCommand =
  | { kind: 'terminate-user'; appId: string; userId: string }
  /**
   * A user went online (first signed-in connection) or offline (last one closed), cluster-wide.
   * `version` orders one user's transitions as they were decided (UserStore): the node that
   * decided a sign-out and the node that decided the next sign-in publish independently, so
   * receivers may get the two the other way round and must drop one older than the last seen.
   */
  | { kind: 'user-presence'; appId: string; userId: string; online: boolean; version: number };

/** Receives traffic from every node, this one included. Must not throw. */
export interface BrokerHandler {
  onPublication(pub: Publication): void;
  onControl(cmd: ControlCommand): void;
}

export interface PublishOptions {
  /**
   * Wait up to this long for the cluster while it is unreachable or failing over, then, if still
   * not published, throw PublishUnavailableError (this node's subscribers have it). Unset: never
   * wait nor throw; this node's subscribers get it, the others may not.
   */
  waitMs?: number;
}

/** At-most-once, ordered per channel only. subscribe/unsubscribe are idempotent. */
export interface Broker {
  /** Once, after the local hub exists. */
  start(handler: BrokerHandler): Promise<void>;
  /** Called for the first local subscriber of a channel. */
  subscribe(appId: string, channel: string): Promise<void>;
  /** Called after the last local subscriber leaves. */
  unsubscribe(appId: string, channel: string): Promise<void>;
  publish(pub: Publication, opts?: PublishOptions): Promise<void>;
  /**
   * Resolves once every publication to the channel made before the call (by any node) has reached
   * this node's handler: what was read of the channel's state before the call can then be ordered
   * against the publications. Requires this node's interest in the channel. Bounded: resolves after
   * a few seconds in any case (a node whose link to the cluster is failing gets no such promise).
   */
  sync(appId: string, channel: string): Promise<void>;
  publishControl(cmd: ControlCommand, opts?: PublishOptions): Promise<void>;
  close(): Promise<void>;
}

/**
 * What a write did. `partial`: the shared state was unreachable, so the write was skipped (the
 * node registers its local state again once the store is back) and `count` is not the cluster's.
 */
export interface ChannelChange {
  count: number;
  partial?: boolean;
}

/**
 * Subscription counts per channel, cluster-wide, keyed by socket so a repeat is not counted twice.
 * Reads throw StateUnavailableError while the shared state is unreachable.
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

export interface PresenceMember {
  userId: string;
  userInfo?: unknown;
}

/**
 * Presence members with a connection count per user. A store publishes the member events itself,
 * in the same step that decides them (`first`: member_added to the channel except the joining
 * socket; `last`: member_removed), so that every node sees a channel's member events in the order
 * they were decided: a leave on one node and the same user's join on another, announced by their
 * callers afterwards, could arrive the other way round and drop a user who is present.
 * Reads (`members`, `userCount`) throw StateUnavailableError while the state is unreachable.
 */
export interface PresenceStore {
  add(appId: string, channel: string, socketId: string, m: PresenceMember): Promise<{ first: boolean }>;
  remove(appId: string, channel: string, socketId: string): Promise<{ last: boolean; member?: PresenceMember }>;
  /** Distinct users, each once, with the user_info of their first connection. */
  members(appId: string, channel: string): Promise<PresenceMember[]>;
  userCount(appId: string, channel: string): Promise<number>;
  /** Distinct user count of a presence channel, or whether a new user would exceed `max`. */
  wouldExceed(appId: string, channel: string, userId: string, max: number): Promise<boolean>;
}

/** What a presence subscription did: the channel's subscription count and the member change. */
export interface PresenceJoin {
  count: number;
  added: boolean;
  /** The user's first connection in the channel: member_added was published. */
  first: boolean;
  /** The members after the join (this user included), for pusher_internal:subscription_succeeded. */
  members: PresenceMember[];
  /**
   * The shared state was unreachable: the join is local only (registered, and member_added sent,
   * once the store is back) and `members` is empty, not the channel's members.
   */
  partial?: boolean;
}

export interface PresenceLeave {
  count: number;
  /** The shared state was unreachable: the leave is local only (undone in the store on recovery). */
  partial?: boolean;
  removed: boolean;
  /** The user's last connection left: member_removed was published. */
  last: boolean;
  member?: PresenceMember;
}

/**
 * A presence subscription in one step each way: the channel subscription and the membership
 * together (on Redis one script call per join or leave instead of several round trips). Same
 * effects, member events included, as ChannelStore.join + PresenceStore.add + members, and
 * ChannelStore.leave + PresenceStore.remove.
 */
export interface PresenceChannelStore {
  join(appId: string, channel: string, socketId: string, m: PresenceMember): Promise<PresenceJoin>;
  /** `userId`: the user the socket joined as (member_removed names it). */
  leave(appId: string, channel: string, socketId: string, userId: string): Promise<PresenceLeave>;
}

/** Composes the two-step operations; for stores where each step is cheap (memory). */
export function composePresenceChannels(channels: ChannelStore, presence: PresenceStore): PresenceChannelStore {
  return {
    async join(appId, channel, socketId, m) {
      const { count, added } = await channels.join(appId, channel, socketId);
      const { first } = await presence.add(appId, channel, socketId, m);
      return { count, added, first, members: await presence.members(appId, channel) };
    },
    async leave(appId, channel, socketId) {
      // The store knows the socket's user itself.
      const { count, removed } = await channels.leave(appId, channel, socketId);
      return { count, removed, ...(await presence.remove(appId, channel, socketId)) };
    },
  };
}

/** Signed-in users (pusher:signin) with a connection count per user, cluster-wide; `online` throws StateUnavailableError while the state is unreachable. */
export interface UserStore {
  /** `version`, when `first`: greater than that of every earlier transition of this user (see ControlCommand). */
  signin(appId: string, userId: string, socketId: string): Promise<{ first: boolean; version: number }>;
  /** `version`, when `last`: greater than that of every earlier transition of this user. */
  signout(appId: string, userId: string, socketId: string): Promise<{ last: boolean; version: number }>;
  /** The subset of `userIds` signed in on at least one connection anywhere. */
  online(appId: string, userIds: readonly string[]): Promise<Set<string>>;
}

export interface CachedEvent {
  event: string;
  data: string;
  /** Seconds until it expires. */
  ttl: number;
}

/** Last event published through the API on cache channels. */
export interface CacheStore {
  set(appId: string, channel: string, event: string, data: string, ttlSeconds: number): Promise<void>;
  get(appId: string, channel: string): Promise<CachedEvent | undefined>;
}

/** Cluster-wide state changes, for the webhook pipeline in embedded mode. */
export interface StateObserver {
  channelOccupancy(appId: string, channel: string, occupied: boolean): void;
  memberPresence(appId: string, channel: string, userId: string, present: boolean): void;
}

/**
 * Cluster-wide counts for admission control. Counts are synchronised about once a second, so the
 * limits are approximate under bursts (by design: no Redis round trip on the connect path).
 */
export interface UsageCounters {
  /** This node's open connections of the app changed. */
  setLocalConnections(appId: string, count: number): void;
  /** Connections of the app on the whole cluster, as of the last sync (this node's at its sync). */
  clusterConnections(appId: string): number;
  /** Counts one API request; false when the app is over `perSecond` in the current second, cluster-wide. */
  hitApi(appId: string, perSecond: number): Promise<boolean>;
}

/** What one local socket holds in the shared state; used to re-register after a Redis outage. */
export type LocalContribution =
  | { kind: 's'; appId: string; channel: string; socketId: string }
  | { kind: 'p'; appId: string; channel: string; socketId: string; member: PresenceMember }
  | { kind: 'u'; appId: string; userId: string; socketId: string };

/** Everything a gateway needs from the cluster, in one bundle created by a factory per mode. */
export interface ClusterState {
  broker: Broker;
  channels: ChannelStore;
  presence: PresenceStore;
  presenceChannels: PresenceChannelStore;
  users: UserStore;
  cache: CacheStore;
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
  /** Channel topics this node is subscribed to. */
  topics: number;
  /** Publications sent to Redis, and received from it. */
  published: number;
  received: number;
}
