/** Per-app limits. Every field can be overridden per app in PUSH_APPS_FILE. */
export interface AppLimits {
  /** Longest channel name accepted. @default 200 (what the server SDKs validate; Pusher's docs say 164) */
  maxChannelNameLength: number;
  /** Longest event name accepted. @default 200 */
  maxEventNameLength: number;
  /** Largest event `data` in bytes (UTF-8), for API triggers and client events. @default 10240 */
  maxEventPayloadBytes: number;
  /** Channels one connection may be subscribed to at once. @default 100 */
  maxChannelsPerConnection: number;
  /** Channels one trigger may name. @default 100 */
  maxChannelsPerTrigger: number;
  /** Events in one batch_events call. @default 10 */
  maxBatchSize: number;
  /** Distinct users in one presence channel. @default 100 */
  maxPresenceMembers: number;
  /** Largest presence `user_info` in bytes once serialised. @default 1024 */
  maxPresenceUserInfoBytes: number;
  /** Longest presence user id. @default 128 */
  maxPresenceUserIdLength: number;
  /** Client events one connection may send per second. @default 10 */
  maxClientEventsPerSecond: number;
  /** Connections the app may hold at once, cluster-wide; 0 means unlimited. @default 0 */
  maxConnections: number;
  /** REST API requests per second, cluster-wide; 0 means unlimited (429 beyond). @default 0 */
  maxApiRequestsPerSecond: number;
}

export const DEFAULT_LIMITS: Readonly<AppLimits> = Object.freeze({
  maxChannelNameLength: 200,
  maxEventNameLength: 200,
  maxEventPayloadBytes: 10 * 1024,
  maxChannelsPerConnection: 100,
  maxChannelsPerTrigger: 100,
  maxBatchSize: 10,
  maxPresenceMembers: 100,
  maxPresenceUserInfoBytes: 1024,
  maxPresenceUserIdLength: 128,
  maxClientEventsPerSecond: 10,
  maxConnections: 0,
  maxApiRequestsPerSecond: 0,
});
