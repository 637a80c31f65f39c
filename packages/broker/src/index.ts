export { StateUnavailableError } from './state-unavailable.js';
export { PublishUnavailableError } from './publish-unavailable.js';
export type {
  ChannelChange,
  Publication,
  PublishOptions,
  ControlCommand,
  BrokerHandler,
  Broker,
  ChannelStore,
  PresenceMember,
  PresenceStore,
  PresenceChannelStore,
  PresenceJoin,
  PresenceLeave,
  UserStore,
  CachedEvent,
  CacheStore,
  StateObserver,
  ClusterState,
} from './broker.js';
export { MemoryBroker } from './memory-broker.js';
export { MemoryChannelStore, MemoryPresenceStore, MemoryUserStore, MemoryCacheStore } from './memory-state.js';
export { createMemoryState } from './memory-cluster.js';
export { composePresenceChannels } from './broker.js';
export type { LocalContribution, ClusterStats, UsageCounters } from './broker.js';
export { RedisKeys } from './keys.js';
export { RedisBroker } from './redis-broker.js';
export type { RedisStateOptions, RedisClusterState } from './redis-cluster-state.js';
export { createRedisState } from './redis-cluster-state.js';
export type { RedisConnectOptions } from './redis-connection.js';
export type { OutboxEntry, DeadLetter, MoveResult, ReplayResult, RedisWebhooksOptions, ReportedState } from './redis-webhooks.js';
export { RedisWebhooks, DEFAULT_OUTBOX_MAX } from './redis-webhooks.js';
export { withoutUserinfo } from './webhook-url.js';
export { createRedisConnections } from './redis-connection.js';
export type { RedisConnections, PubSubTransport } from './redis-connection.js';
export type { RedisClient } from './redis-state.js';
