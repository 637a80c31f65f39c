/**
 * Every Redis key and pub/sub topic, built in one place. A channel's keys and topic share the hash
 * tag `{app:channel}`, so on Redis Cluster they live on one shard and its Lua scripts stay
 * single-slot; per-user keys share `{app:u:user}`; node bookkeeping shares `{node:id}`.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  #ch(appId: string, channel: string) {
    return `${this.prefix}:{${appId}:${channel}}`;
  }

  /** Pub/sub topic of a channel (PUBLISH / SPUBLISH). */
  topic(appId: string, channel: string) {
    return `${this.#ch(appId, channel)}:t`;
  }
  /** Hash socketId → nodeId: the channel's subscriptions; HLEN is its subscription count. */
  subs(appId: string, channel: string) {
    return `${this.#ch(appId, channel)}:subs`;
  }
  /** Hash socketId → userId of a presence channel. */
  presenceSockets(appId: string, channel: string) {
    return `${this.#ch(appId, channel)}:psock`;
  }
  /** Hash userId → connection count of a presence channel. */
  presenceCounts(appId: string, channel: string) {
    return `${this.#ch(appId, channel)}:pcount`;
  }
  /** Hash userId → user_info JSON ('' when absent): the channel's members; HLEN is user_count. */
  members(appId: string, channel: string) {
    return `${this.#ch(appId, channel)}:members`;
  }
  /** String `{"event","data"}` with a TTL: the last API event of a cache channel. */
  cache(appId: string, channel: string) {
    return `${this.#ch(appId, channel)}:cache`;
  }
  /** Hash `e` (epoch), `o` (offset of the latest event), `t` (its ms): a history channel's numbering. */
  historyMeta(appId: string, channel: string) {
    return `${this.#ch(appId, channel)}:hm`;
  }
  /** List of a history channel's last events, `<ms>\n<frame>`, oldest first; the last is offset `o`. */
  historyLog(appId: string, channel: string) {
    return `${this.#ch(appId, channel)}:hl`;
  }
  /** Hash of what the webhook worker last reported for a channel: `occ` and `m:<userId>` fields. */
  webhookReported(appId: string, channel: string) {
    return `${this.#ch(appId, channel)}:wh`;
  }
  /** List of a channel's decided transitions (JSON events) not yet moved to the outbox. */
  webhookQueue(appId: string, channel: string) {
    return `${this.#ch(appId, channel)}:whq`;
  }
  /** Lock held by the one worker moving a channel's queue to the outbox. */
  webhookQueueLock(appId: string, channel: string) {
    return `${this.#ch(appId, channel)}:whl`;
  }
  /** Stream of webhook events to deliver (consumer group `deliver`). */
  webhookOutbox() {
    return `${this.prefix}:{wh}:outbox`;
  }
  /** Lock of the one worker delivering from the outbox at a time (the others stand by). */
  webhookLeader() {
    return `${this.prefix}:{wh}:leader`;
  }
  /**
   * Random id of the Redis dataset the outbox lives in, created by the first worker: part of every
   * event id, so ids stay unique when a Redis that lost its data starts the sequences again.
   */
  webhookEpoch() {
    return `${this.prefix}:{wh}:epoch`;
  }
  /** Stream of webhook batches that never got a 2xx. */
  webhookDead() {
    return `${this.prefix}:{wh}:dead`;
  }
  /**
   * List of the app's newest webhook delivery records (JSON, the newest first), capped and
   * expiring: the dashboard's recent deliveries. In the app's slot, beside its other keys.
   */
  webhookLog(appId: string) {
    return `${this.prefix}:{${appId}}:whlog`;
  }
  /** Keyspace-notification patterns for the keys whose changes are webhooks. */
  keyspacePatterns(): string[] {
    return [`__keyspace@*__:${this.prefix}:{*}:subs`, `__keyspace@*__:${this.prefix}:{*}:members`];
  }
  /** Parses `<prefix>:{app:channel}:<suffix>` (with or without the keyspace prefix). */
  parseChannelKey(key: string): { appId: string; channel: string; suffix: string } | undefined {
    const k = key.startsWith('__keyspace@') ? key.slice(key.indexOf('__:') + 3) : key;
    const head = `${this.prefix}:{`;
    if (!k.startsWith(head)) return undefined;
    const close = k.lastIndexOf('}:');
    if (close === -1) return undefined;
    const inner = k.slice(head.length, close);
    const at = inner.indexOf(':');
    if (at <= 0) return undefined;
    return { appId: inner.slice(0, at), channel: inner.slice(at + 1), suffix: k.slice(close + 2) };
  }

  /** Set of the app's occupied channels (kept in step with `subs`, re-checked on read). */
  appChannels(appId: string) {
    return `${this.prefix}:{${appId}}:channels`;
  }
  /** Hash nodeId → `count:expiresAtMs`: the app's connections per node. */
  appConnections(appId: string) {
    return `${this.prefix}:{${appId}}:conns`;
  }
  /** API requests of the app in one second. */
  apiRate(appId: string, second: number) {
    return `${this.prefix}:{${appId}}:api:${second}`;
  }
  /** Set of socket ids signed in as the user. */
  user(appId: string, userId: string) {
    return `${this.prefix}:{${appId}:u:${userId}}:sockets`;
  }
  /** Sorted set nodeId → lease expiry (ms since epoch). */
  nodes() {
    return `${this.prefix}:nodes`;
  }
  /** Hash nodeId → the node's last report (NodeInfo JSON), for the dashboard; one key, any slot. */
  nodeInfo() {
    return `${this.prefix}:nodes:info`;
  }
  /**
   * Hash nodeId → a random token each node writes once it has (re-)registered its local state:
   * after an outage the webhook worker waits for the tokens to change before comparing states.
   */
  registered() {
    return `${this.prefix}:registered`;
  }
  /** Set of JSON entries: what a node contributed to the shared state, for cleanup when it dies. */
  contributions(nodeId: string) {
    return `${this.prefix}:{node:${nodeId}}:contrib`;
  }
  /** Lock held while one node removes a dead node's contributions. */
  reapLock(nodeId: string) {
    return `${this.prefix}:{node:${nodeId}}:reap`;
  }
  /**
   * Sorted set `appId:nodeId` → expiry (ms since epoch): the apps with a debug console open, and
   * on which node. Renewed by that node while the console is open; an entry past its expiry is ignored.
   */
  debugWatch() {
    return `${this.prefix}:{debug}:watch`;
  }
  /** Pub/sub topic telling every node that the debug watch set changed (`+appId` or `-appId`). */
  debugNotice() {
    return `${this.prefix}:{debug}:notice`;
  }
  /** Pub/sub topic of an app's debug records (on the app's slot; never ends in `}:t`, so never a channel topic). */
  debugRecords(appId: string) {
    return `${this.prefix}:{${appId}}:debug`;
  }
  /** Pub/sub channel of node-to-node control commands (hash-tagged: a sharded channel on Cluster). */
  control() {
    return `${this.prefix}:{control}`;
  }

  /** String: the node holding an HTTP session (session-link.ts); the session id is `key/server/session`. */
  sessionHolder(sessionId: string) {
    return `${this.prefix}:{xs:${sessionId}}`;
  }
  /** Pub/sub topic of messages addressed to one node (never ends in `}:t`, so never a channel topic). */
  nodeTopic(nodeId: string) {
    return `${this.prefix}:{node:${nodeId}}:m`;
  }

  /** Parses a channel topic back into app and channel (the hash tag holds `app:channel`). */
  parseTopic(topic: string): { appId: string; channel: string } | undefined {
    const start = this.prefix.length + 2;
    if (!topic.startsWith(`${this.prefix}:{`) || !topic.endsWith('}:t')) return undefined;
    const inner = topic.slice(start, -3);
    // App ids never contain ':' (checked at config load); user channel names may.
    const at = inner.indexOf(':');
    if (at <= 0) return undefined;
    return { appId: inner.slice(0, at), channel: inner.slice(at + 1) };
  }
}
