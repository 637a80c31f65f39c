import { PUSHER_INTERNAL_PREFIX, PusherErrorCode, PusherEvent, USER_CHANNEL_PREFIX } from '@herald/protocol';
import {
  AuthRequestError,
  createEndpointAuthorizer,
  createEndpointUserAuthenticator,
  type ChannelAuthorizer,
  type KeyValues,
  type UserAuthenticator,
} from './auth.js';
import { normalizeReconnectOptions, type ReconnectOptions } from './backoff.js';
import { createChannel, type Channel, type ChannelHost, type EncryptedChannel, type PresenceChannel } from './channel.js';
import { Connection, type TransportCandidate } from './connection.js';
import { parseEventData, type IncomingFrame, type PushErrorEvent } from './frames.js';
import { createHttpTransport } from './http-socket.js';
import type { Platform } from './transport.js';
import { ALL_TRANSPORTS, TransportName } from './transport-selector.js';
import { User } from './user.js';
import { CLIENT_VERSION } from './version.js';

/** `new Push(options)`: webman/push's options, plus auth customisation and reconnect tuning. */
export interface PushOptions {
  /** WebSocket base URL, e.g. `ws://127.0.0.1:3131` or `wss://example.com`; `/app/<app_key>` is appended. */
  url: string;
  app_key: string;
  /** Channel auth endpoint for `private-` / `presence-` channels. @default '/plugin/webman/push/auth' */
  auth?: string;
  /** Ping period in ms (shortened to the server's activity_timeout when that is smaller). @default 25000 */
  heartbeat?: number;
  /** Wait for any frame after a ping before reconnecting, in ms. @default 10000 */
  pingTimeout?: number;
  /** Extra headers on auth requests (an object, or a function returning one per request). */
  headers?: KeyValues;
  /** Extra form fields on auth requests, after `socket_id` and `channel_name`. */
  params?: KeyValues;
  /** Replaces the HTTP call to `auth` entirely. */
  authorizer?: ChannelAuthorizer;
  /** User-auth endpoint for `signin()`. @default '/pusher/user-auth' */
  userAuthEndpoint?: string;
  /** Replaces the HTTP call to `userAuthEndpoint`. */
  userAuthenticator?: UserAuthenticator;
  /** Back-off between reconnects (full jitter). @default { minDelayMs: 1000, maxDelayMs: 30000 } */
  reconnect?: Partial<ReconnectOptions>;
  /**
   * Transports, in the order they are tried: `ws`, then the HTTP fallbacks `xhr_streaming` and
   * `xhr_polling` on the same host and port (docs/reference/client-fallback.md). Those the runtime
   * cannot do are left out (uni-app cannot stream).
   * @default ['ws', 'xhr_streaming', 'xhr_polling']
   */
  transports?: TransportName[];
  /** Socket, HTTP and network adapters; defaults to the bundle's runtime (browser or uni-app). */
  platform?: Platform;
}

export interface ResolvedPushOptions {
  url: string;
  app_key: string;
  auth: string;
  heartbeat: number;
  pingTimeout: number;
  userAuthEndpoint: string;
  reconnect: ReconnectOptions;
  transports: readonly TransportName[];
}

const DEFAULT_AUTH_ENDPOINT = '/plugin/webman/push/auth';
const DEFAULT_USER_AUTH_ENDPOINT = '/pusher/user-auth';

function positive(name: string, value: number | undefined, fallback: number): number {
  // As in webman's push.js (`options.heartbeat || 25000`), 0 and other falsy values mean "default".
  if (!value) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number of ms (got ${String(value)})`);
  return value;
}

function transportList(value: unknown): readonly TransportName[] {
  if (value === undefined) return ALL_TRANSPORTS;
  const known = ALL_TRANSPORTS as readonly unknown[];
  if (!Array.isArray(value) || value.length === 0 || value.some((t) => !known.includes(t)) || new Set(value).size !== value.length) {
    throw new TypeError(`transports must be a non-empty list of distinct names among ${ALL_TRANSPORTS.join(', ')} (got ${JSON.stringify(value)})`);
  }
  return Object.freeze([...(value as TransportName[])]);
}

function resolveOptions(o: PushOptions): ResolvedPushOptions {
  if (!o || typeof o.url !== 'string' || o.url === '') throw new TypeError('Push: the `url` option is required (e.g. ws://127.0.0.1:3131)');
  if (typeof o.app_key !== 'string' || o.app_key === '') throw new TypeError('Push: the `app_key` option is required');
  return {
    url: o.url,
    app_key: o.app_key,
    auth: o.auth ?? DEFAULT_AUTH_ENDPOINT,
    heartbeat: positive('heartbeat', o.heartbeat, 25_000),
    pingTimeout: positive('pingTimeout', o.pingTimeout, 10_000),
    userAuthEndpoint: o.userAuthEndpoint ?? DEFAULT_USER_AUTH_ENDPOINT,
    reconnect: normalizeReconnectOptions(o.reconnect),
    transports: transportList(o.transports),
  };
}

const query = `?protocol=7&client=herald-js&version=${CLIENT_VERSION}&flash=false`;

/** `ws://host:3131` → `ws://host:3131/app/<key>?protocol=7&client=herald-js&version=…`. */
function socketUrl(base: string, appKey: string): string {
  return `${base.replace(/\/+$/, '')}/app/${encodeURIComponent(appKey)}${query}`;
}

/**
 * The HTTP transports' URL on the WebSocket's host and port (Herald serves both there), under
 * pusher-js's `/pusher` path: `wss://host/x` → `https://host/x/pusher/app/<key>?…`. Undefined for
 * a URL that is not ws(s) or http(s), which has no HTTP counterpart.
 */
function httpUrl(base: string, appKey: string): string | undefined {
  const m = /^(ws|wss|http|https):\/\/(.*)$/i.exec(base.replace(/\/+$/, ''));
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase() === 'wss' || m[1]!.toLowerCase() === 'https' ? 'https' : 'http';
  return `${scheme}://${m[2]!}/pusher/app/${encodeURIComponent(appKey)}${query}`;
}

/** The configured transports this platform can run, with their URLs. */
function transportCandidates(config: ResolvedPushOptions, platform: Platform): TransportCandidate[] {
  const http = httpUrl(config.url, config.app_key);
  const stream = platform.httpStream;
  const out: TransportCandidate[] = [];
  for (const name of config.transports) {
    if (name === TransportName.WebSocket) out.push({ name, url: socketUrl(config.url, config.app_key), transport: platform.transport });
    else if (http === undefined || stream === undefined) continue;
    else if (name === TransportName.Polling) out.push({ name, url: http, transport: createHttpTransport('poll', stream) });
    else if (stream.streaming) out.push({ name, url: http, transport: createHttpTransport('stream', stream) });
  }
  if (out.length === 0) {
    throw new TypeError(`Push: none of the transports ${config.transports.join(', ')} can run here (url ${config.url})`);
  }
  return out;
}

/**
 * The client, independent of the runtime: the bundles' `Push` classes pass it their platform
 * (browser `WebSocket` / `fetch`, or uni-app's `uni.connectSocket` / `uni.request`).
 */
export class PushCore {
  /** Every connected (or connecting) client, as webman's `Push.instances`. */
  static instances: PushCore[] = [];

  readonly config: Readonly<ResolvedPushOptions>;
  readonly connection: Connection;
  /** Events sent to the signed-in user; see `signin()`. */
  readonly user = new User();
  /** Subscribed channels by name (webman's `push.channels`). */
  readonly channels: Record<string, Channel> = Object.create(null) as Record<string, Channel>;

  private readonly authorizer: ChannelAuthorizer;
  private readonly userAuthenticator: UserAuthenticator;
  private signinWanted = false;
  /** The socket a sign-in is in flight (or done) on; one per socket. */
  private signinSocketId: string | undefined;
  private readonly host: ChannelHost;

  constructor(options: PushOptions, platform: Platform) {
    this.config = Object.freeze(resolveOptions(options));
    const { headers, params } = options;
    this.authorizer = options.authorizer ?? createEndpointAuthorizer({ endpoint: this.config.auth, headers, params, http: platform.http });
    this.userAuthenticator =
      options.userAuthenticator ?? createEndpointUserAuthenticator({ endpoint: this.config.userAuthEndpoint, headers, params, http: platform.http });
    this.host = {
      send: (frame) => this.connection.send(frame),
      socketId: () => this.connection.socket_id,
      authorize: (name, socketId) => this.authorizer(name, socketId),
      signedInUserId: () => (this.user.signedIn ? this.user.id : undefined),
      reportError: (e) => this.reportError(e),
      unsubscribe: (name) => this.unsubscribe(name),
    };
    this.connection = new Connection(
      {
        transports: transportCandidates(this.config, platform),
        heartbeatMs: this.config.heartbeat,
        pingTimeoutMs: this.config.pingTimeout,
        reconnect: this.config.reconnect,
      },
      platform,
      {
        established: (socketId) => this.onEstablished(socketId),
        frame: (frame) => this.onFrame(frame),
        lost: () => this.onLost(),
        error: (e) => this.reportError(e),
      },
    );
    this.connect();
  }

  /**
   * Subscribes (once per name: an existing channel is returned as is). Private and presence
   * channels are authorized through `auth` / `authorizer`, again after every reconnect.
   */
  subscribe(name: `presence-${string}`): PresenceChannel;
  subscribe(name: `private-encrypted-${string}`): EncryptedChannel;
  subscribe(name: string): Channel;
  subscribe(name: string): Channel {
    const existing = this.channels[name];
    if (existing) return existing;
    const channel = createChannel(name, this.host);
    this.channels[name] = channel;
    channel.subscribe(); // no-op until connected; onEstablished subscribes every channel
    return channel;
  }

  unsubscribe(name: string): void {
    const channel = this.channels[name];
    if (!channel) return;
    delete this.channels[name];
    channel.reset();
    this.connection.send({ event: PusherEvent.Unsubscribe, data: { channel: name } });
  }

  unsubscribeAll(): void {
    for (const name of Object.keys(this.channels)) this.unsubscribe(name);
  }

  /** The channel subscribed under `name`, if any (broken in webman's push.js). */
  channel(name: string): Channel | undefined {
    return this.channels[name];
  }

  allChannels(): Channel[] {
    return Object.keys(this.channels).map((n) => this.channels[n]!);
  }

  /**
   * Signs the connection in as a user through `userAuthEndpoint` (and again after every
   * reconnect). Then `push.user.on(event, cb)` receives the server's `sendToUser` events.
   * Outcome: `pusher:signin_success` or `pusher:signin_error` on `push.user`.
   */
  signin(): void {
    this.signinWanted = true;
    const socketId = this.connection.socket_id;
    if (socketId !== undefined) this.startSignin(socketId);
  }

  /** Closes the connection and stops reconnecting; channels are kept for a later `connect()`. */
  disconnect(): void {
    if (this.connection.transport !== TransportName.WebSocket) {
      // The server ends an HTTP session only 10 s after its client stopped asking for frames:
      // leaving the channels first updates presence and occupancy now, as a WebSocket's close does.
      for (const channel of this.allChannels()) {
        if (channel.subscribed) this.connection.send({ event: PusherEvent.Unsubscribe, data: { channel: channel.channelName } });
      }
    }
    this.connection.disconnect();
    const i = PushCore.instances.indexOf(this);
    if (i >= 0) PushCore.instances.splice(i, 1);
  }

  /** Connects again after `disconnect()` (or after the server refused with a 4000-4099 code). */
  connect(): void {
    if (!PushCore.instances.includes(this)) PushCore.instances.push(this);
    this.connection.connect();
  }

  private onEstablished(socketId: string): void {
    for (const channel of this.allChannels()) channel.subscribe();
    if (this.signinWanted) this.startSignin(socketId);
  }

  private onLost(): void {
    for (const channel of this.allChannels()) channel.reset();
    this.user.signedIn = false;
    this.signinSocketId = undefined;
  }

  private onFrame(frame: IncomingFrame): void {
    const { event, channel } = frame;
    if (channel !== undefined) {
      if (this.user.id !== undefined && channel === USER_CHANNEL_PREFIX + this.user.id) return this.onUserFrame(frame);
      this.channels[channel]?.handleFrame(frame);
      return;
    }
    switch (event) {
      case PusherEvent.Error:
        return this.onPusherError(frame.data);
      case PusherEvent.SigninSuccess:
        return this.onSigninSuccess(frame.data);
      case PusherEvent.WatchlistEvents: {
        const events = (parseEventData(frame.data) as { events?: unknown } | undefined)?.events;
        if (!Array.isArray(events)) return;
        for (const e of events as Array<{ name?: unknown }>) if (typeof e?.name === 'string') this.user.watchlist.emit(e.name, e);
        return;
      }
      default:
      // Other connection-level frames are not part of the protocol version 7 client surface.
    }
  }

  private onPusherError(data: unknown): void {
    const d = parseEventData(data) as { code?: unknown; message?: unknown } | undefined;
    const code = typeof d?.code === 'number' ? d.code : null;
    const message = typeof d?.message === 'string' ? d.message : 'Unknown error';
    if (code === PusherErrorCode.Unauthorized && this.signinSocketId !== undefined && !this.user.signedIn) {
      this.signinSocketId = undefined;
      this.user.emit('pusher:signin_error', { type: 'SigninError', error: message, status: code });
    }
    this.reportError({ type: 'PusherError', code, message, data: d });
  }

  private startSignin(socketId: string): void {
    if (this.signinSocketId === socketId) return;
    this.signinSocketId = socketId;
    const current = () => this.connection.socket_id === socketId && this.signinSocketId === socketId;
    Promise.resolve()
      .then(() => this.userAuthenticator(socketId))
      .then((auth) => {
        if (current()) this.connection.send({ event: PusherEvent.Signin, data: { auth: auth.auth, user_data: auth.user_data } });
      })
      .catch((err: unknown) => {
        if (!current()) return;
        this.signinSocketId = undefined;
        const message = err instanceof Error ? err.message : String(err);
        const status = err instanceof AuthRequestError ? err.status : 0;
        this.user.emit('pusher:signin_error', { type: 'SigninError', error: message, status });
        this.reportError({ type: 'SigninError', message, status, error: err });
      });
  }

  private onSigninSuccess(data: unknown): void {
    const raw = (parseEventData(data) as { user_data?: unknown } | undefined)?.user_data;
    const userData = parseEventData(raw) as { id?: unknown } | undefined;
    if (typeof userData?.id !== 'string' || userData.id === '') {
      this.reportError({ type: 'SigninError', message: 'pusher:signin_success without a user id', data });
      return;
    }
    this.user.id = userData.id;
    this.user.user_data = userData;
    this.user.signedIn = true;
    // Herald joins the user channel on sign-in by itself; other servers (soketi) need the subscribe.
    this.connection.send({ event: PusherEvent.Subscribe, data: { auth: '', channel: USER_CHANNEL_PREFIX + userData.id } });
    this.user.emit('pusher:signin_success', { user_data: raw });
  }

  private onUserFrame(frame: IncomingFrame): void {
    if (frame.event.startsWith(PUSHER_INTERNAL_PREFIX)) return;
    this.user.emit(frame.event, parseEventData(frame.data));
  }

  /** Errors are events, never exceptions; without a listener they still reach the console. */
  private reportError(e: PushErrorEvent): void {
    if (this.connection.listenerCount('error') === 0 && typeof console !== 'undefined') {
      console.warn(`[push] ${e.type}: ${e.message}`);
    }
    this.connection.emit('error', e);
  }
}
