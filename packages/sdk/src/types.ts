import type { DataEncoding } from './options.js';

/** Channel attributes the server can report (`info`). `user_count` exists only for presence channels. */
export type InfoAttribute = 'user_count' | 'subscription_count' | 'cache';

/** A list of attributes, or the wire form: one comma-separated string. */
export type Info = readonly InfoAttribute[] | readonly string[] | string;

export interface TriggerOptions {
  /** This connection does not receive the event (usually the sender's). Must match `^\d+\.\d+$`. */
  socketId?: string;
  /** Attributes to return per channel, e.g. `['subscription_count']`. */
  info?: Info;
  /** Overrides the Api's `encode` option for this call. */
  encode?: DataEncoding;
}

export interface BatchEvent {
  channel: string;
  name: string;
  /** Strings as-is (unless `encode: 'always'`), anything else JSON-encoded once. */
  data: unknown;
  socketId?: string;
  info?: Info;
  encode?: DataEncoding;
}

export interface ChannelsOptions {
  /** Only channels whose name starts with this (`filter_by_prefix`). */
  prefix?: string;
  /** `user_count` needs a `presence-` prefix (the server answers 400 otherwise). */
  info?: Info;
}

export interface ChannelOptions {
  info?: Info;
}

export interface ChannelAttributes {
  user_count?: number;
  subscription_count?: number;
}

/** `{}` without `info`; with it, one entry per distinct channel. */
export interface TriggerResult {
  channels?: Record<string, ChannelAttributes>;
}

/** `{}` unless an item had `info`; then `batch[i]` answers item `i`. */
export interface BatchResult {
  batch?: ChannelAttributes[];
}

/** Occupied channels only (at least one subscriber anywhere in the cluster). */
export interface ChannelsResult {
  channels: Record<string, ChannelAttributes>;
}

export interface ChannelInfo extends ChannelAttributes {
  occupied: boolean;
  /** Cache channels, when `info` includes `cache` and something is cached. */
  cache?: { data: string; ttl: number };
}

/** `history()`: at most `limit` events (1 to 1000; the server's default 100) after `since`. */
export interface HistoryOptions {
  limit?: number;
  /** A position `<epoch>:<offset>` (an event's `position`, or a previous answer's): only events after it. */
  since?: string;
  /** `forward` (default): oldest first; `backward`: the newest first. */
  direction?: 'forward' | 'backward';
}

/** One kept event of a channel with history. */
export interface HistoryEvent {
  event: string;
  data: string;
  /** `<epoch>:<offset>`: pass the last one as `since` to read the next page. */
  position: string;
  user_id?: string;
  /** When it was published, ms since the Unix epoch. */
  published_at: number;
}

export interface HistoryResult {
  events: HistoryEvent[];
  /** The channel's latest position when the history was read. */
  position: string;
}

export interface PresenceUser {
  id: string;
}

/** What a presence channel's auth signs as `channel_data`. */
export interface PresenceData {
  user_id: string | number;
  user_info?: unknown;
}

/** What `authenticateUser` signs as `user_data`. Extra fields are signed and sent as given. */
export interface UserData {
  id: string;
  user_info?: unknown;
  /** User ids whose online/offline status this user receives (at most 100). */
  watchlist?: string[];
  [extra: string]: unknown;
}

/** The JSON an app's channel-auth endpoint returns to pusher-js. */
export interface ChannelAuthorization {
  auth: string;
  channel_data?: string;
  /** Base64 per-channel key, only for `private-encrypted-` channels. */
  shared_secret?: string;
}

/** The JSON an app's user-auth endpoint returns to pusher-js. */
export interface UserAuthentication {
  auth: string;
  user_data: string;
}
