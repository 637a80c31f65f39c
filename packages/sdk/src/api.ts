import * as auth from './auth.js';
import { invalidResponse } from './errors.js';
import { resolveOptions, type ApiOptions, type ResolvedOptions } from './options.js';
import {
  prepareBatch,
  prepareChannel,
  prepareChannels,
  prepareHistory,
  prepareSendToUser,
  prepareTerminate,
  prepareTrigger,
  prepareUsers,
  type RequestContext,
} from './requests.js';
import { HttpTransport } from './transport.js';
import type {
  BatchEvent,
  BatchResult,
  ChannelAuthorization,
  ChannelInfo,
  ChannelOptions,
  ChannelsOptions,
  ChannelsResult,
  HistoryOptions,
  HistoryResult,
  PresenceData,
  PresenceUser,
  TriggerOptions,
  TriggerResult,
  UserAuthentication,
  UserData,
} from './types.js';
import { verifyWebhook, type VerifyWebhookOptions, type WebhookHeaders, type WebhookVerification } from './webhook.js';

/**
 * Server SDK for Herald's HTTP API (and any Pusher Channels compatible server): publish, query,
 * terminate, sign channel/user auth, verify webhooks. The Node counterpart of webman/push's PHP `Api`.
 *
 * - Requests are signed with auth_version 1.0 and body_md5, byte for byte like pusher-http-node.
 * - Arguments are validated before anything is sent; every failure is a `HeraldApiError` (a
 *   rejection for requests, a synchronous throw for the signing helpers).
 * - Connections are kept alive and reused; `close()` releases them. The app secret lives in a
 *   private field and never appears in errors or when the object is logged.
 */
export class Api implements AsyncDisposable {
  readonly #key: string;
  readonly #secret: string;
  readonly #options: ResolvedOptions;
  readonly #transport: HttpTransport;

  /**
   * @param baseUrl the API origin, e.g. `http://127.0.0.1:3232`; a path (`https://host/push`) is
   *   kept as a prefix in front of `/apps/...` and, like the PHP SDK, is not signed.
   * @throws HeraldApiError `PUSH_ERR_SDK_INVALID_OPTIONS` for a bad URL, credentials or option.
   */
  constructor(baseUrl: string, appKey: string, appSecret: string, options: ApiOptions) {
    this.#options = resolveOptions(baseUrl, appKey, appSecret, options);
    this.#key = appKey;
    this.#secret = appSecret;
    this.#transport = new HttpTransport(this.#options);
  }

  get appKey(): string {
    return this.#key;
  }

  get appId(): string {
    return this.#options.appId;
  }

  get #ctx(): RequestContext {
    const o = this.#options;
    return { key: this.#key, secret: this.#secret, appId: o.appId, pathPrefix: o.pathPrefix, encode: o.encode, masterKey: o.masterKey, limits: o.limits };
  }

  get #signer(): auth.Signer {
    return { key: this.#key, secret: this.#secret, masterKey: this.#options.masterKey, limits: this.#options.limits };
  }

  /**
   * Publishes `event` on up to 100 channels (POST /events). `data`: strings are sent as they are,
   * anything else is JSON-encoded once (`encode: 'always'` encodes strings too); on a
   * `private-encrypted-` channel (alone) it is encrypted with the master key. Subscribers receive
   * the resulting string byte for byte.
   * @returns the server's JSON: `{}`, or `{channels: {...}}` when `info` was asked for.
   */
  trigger(channels: string | readonly string[], event: string, data: unknown, options?: TriggerOptions): Promise<TriggerResult> {
    return this.#send(() => prepareTrigger(this.#ctx, channels, event, data, options)) as Promise<TriggerResult>;
  }

  /** Up to 10 events in one request (POST /batch_events), validated all before any is sent. */
  triggerBatch(events: readonly BatchEvent[]): Promise<BatchResult> {
    return this.#send(() => prepareBatch(this.#ctx, events)) as Promise<BatchResult>;
  }

  /** Occupied channels, optionally filtered by name prefix (GET /channels). */
  channels(options?: ChannelsOptions): Promise<ChannelsResult> {
    return this.#send(() => prepareChannels(this.#ctx, options)) as Promise<ChannelsResult>;
  }

  /** One channel's state (GET /channels/{name}); an unknown channel is `{occupied: false}`. */
  channel(channel: string, options?: ChannelOptions): Promise<ChannelInfo> {
    return this.#send(() => prepareChannel(this.#ctx, channel, options)) as Promise<ChannelInfo>;
  }

  /**
   * The kept events of a channel with history (GET /channels/{name}/history): page forward with
   * `since` set to the last event's position. Refused (`HeraldApiError`, status 400) when the
   * channel keeps no history, or `since` is of another epoch or older than what is kept.
   */
  history(channel: string, options?: HistoryOptions): Promise<HistoryResult> {
    return this.#send(() => prepareHistory(this.#ctx, channel, options)) as Promise<HistoryResult>;
  }

  /** Distinct users of a presence channel (GET /channels/{name}/users). */
  async users(channel: string): Promise<PresenceUser[]> {
    const body = await this.#send(() => prepareUsers(this.#ctx, channel));
    // webman/push answered a bare array; Pusher and Herald answer {"users": [...]}.
    const users = Array.isArray(body) ? body : (body as { users?: unknown }).users;
    if (!Array.isArray(users)) throw invalidResponse('GET', `/apps/${this.appId}/channels/${channel}/users`, 200, JSON.stringify(body), 'no users array');
    return users as PresenceUser[];
  }

  /** Closes every connection signed in as `userId`, on every node (they get close code 4009). */
  terminateUserConnections(userId: string): Promise<Record<string, never>> {
    return this.#send(() => prepareTerminate(this.#ctx, userId)) as Promise<Record<string, never>>;
  }

  /** Triggers on `#server-to-user-{userId}`, which every connection signed in as the user receives. */
  sendToUser(userId: string, event: string, data: unknown, options?: Pick<TriggerOptions, 'encode'>): Promise<TriggerResult> {
    return this.#send(() => prepareSendToUser(this.#ctx, userId, event, data, options)) as Promise<TriggerResult>;
  }

  /**
   * The JSON your channel-auth endpoint returns to pusher-js: `{auth, channel_data?, shared_secret?}`.
   * Same bytes as pusher-http-node's `authorizeChannel`. `shared_secret` comes with
   * `private-encrypted-` channels and needs `encryptionMasterKeyBase64`.
   * @throws HeraldApiError `PUSH_ERR_SDK_INVALID_ARGUMENT`
   */
  authorizeChannel(socketId: string, channel: string, presenceData?: PresenceData): ChannelAuthorization {
    return auth.authorizeChannel(this.#signer, socketId, channel, presenceData);
  }

  /**
   * The JSON your user-auth endpoint returns for `pusher.signin()`: `{auth, user_data}`.
   * @throws HeraldApiError `PUSH_ERR_SDK_INVALID_ARGUMENT`
   */
  authenticateUser(socketId: string, userData: UserData): UserAuthentication {
    return auth.authenticateUser(this.#signer, socketId, userData);
  }

  /**
   * Checks a webhook against this app's key and secret: header key, signature over the raw body
   * (constant time), JSON shape, `time_ms`. Never throws.
   */
  verifyWebhook(headers: WebhookHeaders, rawBody: string | Uint8Array, options?: VerifyWebhookOptions): WebhookVerification {
    return verifyWebhook({ key: this.#key, secret: this.#secret }, headers, rawBody, options);
  }

  /** webman/push `Api::socketAuth(channel, socket_id, custom_data)`: the auth JSON as a string. */
  socketAuth(channel: string, socketId: string, customData?: string): string {
    return auth.socketAuth(this.#signer, channel, socketId, customData);
  }

  /** webman/push `Api::presenceAuth(channel, socket_id, user_id, user_info)`: the auth JSON as a string. */
  presenceAuth(channel: string, socketId: string, userId: string | number, userInfo?: unknown): string {
    return auth.presenceAuth(this.#signer, channel, socketId, userId, userInfo);
  }

  /** Releases the kept-alive connections. Requests in flight fail; later ones reject with `PUSH_ERR_SDK_CLOSED`. */
  async close(): Promise<void> {
    this.#transport.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Building runs inside the promise so that a validation error is a rejection, not a throw. */
  async #send(build: () => Parameters<HttpTransport['send']>[0]): Promise<unknown> {
    return this.#transport.send(build());
  }
}
