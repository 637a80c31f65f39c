// The package's only public surface: interfaces (one concept per file here), the memory twins
// (memory/) and the Redis twins with the Redis-only pieces the webhook worker uses (redis/).
export type { Broker, BrokerHandler, ControlCommand, Publication, PublishOptions } from './broker.js';
export type { ChannelChange, ChannelStore } from './channel-store.js';
export type { PresenceMember, PresenceStore } from './presence-store.js';
export type { PresenceChannelStore, PresenceJoin, PresenceLeave } from './presence-channel-store.js';
export { composePresenceChannels } from './presence-channel-store.js';
export type { UserStore } from './user-store.js';
export type { CachedEvent, CacheStore } from './cache-store.js';
export type { HistoryEntry, HistoryPolicy, HistoryReadOptions, HistorySlice, HistoryStore } from './history-store.js';
export type { StateObserver } from './state-observer.js';
export type { UsageCounters } from './usage-counters.js';
export type { ClusterState, ClusterStats, LocalContribution } from './cluster-state.js';
export { StateUnavailableError } from './errors/state-unavailable.js';
export { PublishUnavailableError } from './errors/publish-unavailable.js';
export { withoutUserinfo } from './webhook-url.js';

export { MemoryBroker } from './memory/memory-broker.js';
export { MemoryChannelStore } from './memory/memory-channel-store.js';
export { MemoryPresenceStore } from './memory/memory-presence-store.js';
export { MemoryUserStore } from './memory/memory-user-store.js';
export { MemoryCacheStore } from './memory/memory-cache-store.js';
export { createMemoryState } from './memory/memory-state.js';

export { RedisKeys } from './redis/keys.js';
export { RedisBroker } from './redis/redis-broker.js';
export type { RedisClient } from './redis/redis-client.js';
export type { PubSubTransport } from './redis/pubsub-transport.js';
export type { RedisConnectOptions, RedisConnections } from './redis/redis-connection.js';
export { createRedisConnections } from './redis/redis-connection.js';
export { connectRedis } from './redis/cluster-state/connection.js';
export type { RedisClusterState, RedisStateOptions } from './redis/redis-cluster-state.js';
export { createRedisState } from './redis/redis-cluster-state.js';
export { DEFAULT_OUTBOX_MAX, RedisWebhooks } from './redis/redis-webhooks.js';
export type { DeadLetter, MoveResult, OutboxEntry, RedisWebhooksOptions, ReplayResult, ReportedState } from './redis/webhook-types.js';
export type { DebugBus, DebugFeed, DebugKind, DebugRecord, DebugSink } from './debug.js';
export { DEBUG_DATA_MAX, noDebug } from './debug.js';
export type { NodeDirectory, NodeInfo, NodeSample } from './node-directory.js';
export type { WebhookDeliveryRecord, WebhookLog } from './webhook-log.js';
export { WEBHOOK_LOG_MAX } from './webhook-log.js';
