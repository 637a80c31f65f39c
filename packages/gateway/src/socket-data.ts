import type { DebugSink } from '@herald/broker';
import type { Logger } from 'pino';
import type { App } from '@herald/config';

export type ConnectionStatus = 'upgrading' | 'open' | 'closing' | 'closed';

/** How a client is connected: a WebSocket, or an HTTP session of pusher-js's fallbacks (xhr/). */
export type Transport = 'ws' | 'xhr_streaming' | 'xhr_polling';

/**
 * What Herald uses of a client connection. A uWebSockets.js WebSocket is one as it is; an HTTP
 * session (xhr/xhr-session.ts) implements the same calls, so handlers never ask which they hold.
 * `send` answers like uWebSockets.js: 0 backpressured (kept), 1 sent, 2 dropped.
 */
export interface ClientSocket {
  getUserData(): SocketData;
  send(frame: string | Uint8Array): number;
  subscribe(topic: string): boolean;
  unsubscribe(topic: string): boolean;
  isSubscribed(topic: string): boolean;
  /** Runs `cb` with the socket's writes gathered into one. */
  cork(cb: () => void): unknown;
  /** Closes with the code and reason (the close handler runs, as for a WebSocket). */
  end(code?: number, reason?: string): void;
  getBufferedAmount(): number;
}

/** An HTTP session as the hub fans out to it: a frame encoded once per publication for all of them. */
export interface SessionSocket extends ClientSocket {
  /** Sends a frame already encoded for the HTTP framing (xhr/frames.ts encodeFrame). */
  sendEncoded(encoded: string): number;
}

/** What a subscription holds on this connection; the presence user id for presence channels. */
export interface LocalSubscription {
  presenceUserId?: string;
  /** The member's user_info, kept to re-register presence after a Redis outage. */
  presenceUserInfo?: unknown;
  /** The member list sent was partial (shared state unreachable): the full one is due on recovery. */
  partialMembers?: boolean;
}

/** A subscription to a channel that is not presence holds nothing: every socket shares this one. */
export const PLAIN_SUBSCRIPTION: LocalSubscription = Object.freeze({});

/**
 * A socket's subscriptions by channel name, in no particular order. Most sockets hold one channel,
 * or a few, for as long as they are connected: the first is kept in two fields and a Map is made
 * only for more (an empty Map costs about 190 bytes of heap, a quarter of an idle socket's).
 */
export class Subscriptions {
  #firstName: string | undefined = undefined;
  #first: LocalSubscription | undefined = undefined;
  #more: Map<string, LocalSubscription> | undefined = undefined;

  get size(): number {
    return (this.#firstName === undefined ? 0 : 1) + (this.#more?.size ?? 0);
  }

  get(channel: string): LocalSubscription | undefined {
    return channel === this.#firstName ? this.#first : this.#more?.get(channel);
  }

  has(channel: string): boolean {
    return this.get(channel) !== undefined;
  }

  set(channel: string, sub: LocalSubscription): void {
    if (channel === this.#firstName) this.#first = sub;
    else if (this.#firstName === undefined && this.#more?.has(channel) !== true) {
      this.#firstName = channel;
      this.#first = sub;
    } else (this.#more ??= new Map()).set(channel, sub);
  }

  delete(channel: string): boolean {
    if (channel === this.#firstName) {
      this.#firstName = undefined;
      this.#first = undefined;
      return true;
    }
    if (this.#more?.delete(channel) !== true) return false;
    if (this.#more.size === 0) this.#more = undefined;
    return true;
  }

  /** The channel names, a copy (safe to change the subscriptions while going through it). */
  names(): string[] {
    return [...this].map(([channel]) => channel);
  }

  *[Symbol.iterator](): IterableIterator<[string, LocalSubscription]> {
    if (this.#firstName !== undefined) yield [this.#firstName, this.#first!];
    if (this.#more !== undefined) yield* this.#more;
  }
}

/** Per-socket state, set in `res.upgrade(...)` and read with `ws.getUserData()`. */
export interface SocketData {
  socketId: string;
  app: App;
  status: ConnectionStatus;
  transport: Transport;
  channels: Subscriptions;
  /** Signed-in user id (pusher:signin). */
  userId?: string;
  /** Signed-in user's info, used for presence subscriptions without channel_data. */
  userInfo?: unknown;
  watchlist?: string[];
  /** The watchlist's state could not be read at sign-in (shared state unreachable): due on recovery. */
  watchlistPending?: boolean;
  /** Frames of one connection are handled in order, one at a time (handlers await the broker). */
  queue: Promise<void>;
  /** Frames waiting in `queue` or being handled; bounded so a flooding client cannot hold memory. */
  queued: number;
  lastSeen: number;
  pingSentAt: number;
  /** Client-event rate limiting: window start (ms) and count in that window. */
  clientEventWindow: number;
  clientEventCount: number;
  /** The gateway's logger; log through `socketLog(data)`, which adds the socket's bindings. */
  baseLog: Logger;
  /** The gateway's debug sink, for the errors sent to the socket (error_sent). */
  debug: DebugSink;
  ws?: ClientSocket;
}

/** Settled promise shared by every idle socket's queue (one less allocation per connection). */
export const IDLE_QUEUE: Promise<void> = Promise.resolve();

/**
 * Runs `fn` (which must not reject) after the work queued on the socket before it, and returns
 * when it is done. Once nothing was queued behind it, the socket goes back to the shared settled
 * queue, so an idle socket (most of them, most of the time) keeps no promise of its own.
 */
export function queueOnSocket(data: SocketData, fn: () => Promise<void>): Promise<void> {
  const link: Promise<void> = data.queue.then(fn).finally(() => {
    if (data.queue === link) data.queue = IDLE_QUEUE;
  });
  data.queue = link;
  return link;
}

// A child logger is a sizeable object: a socket gets one only when something is logged about it.
const childLogs = new WeakMap<SocketData, Logger>();

/** The socket's logger, with its socketId and appId bound, made on first use. */
export function socketLog(data: SocketData): Logger {
  let log = childLogs.get(data);
  if (log === undefined) {
    log = data.baseLog.child({ socketId: data.socketId, appId: data.app.id });
    childLogs.set(data, log);
  }
  return log;
}

export function setStatus(data: SocketData, next: ConnectionStatus): void {
  if (data.baseLog.isLevelEnabled('trace')) socketLog(data).trace({ from: data.status, to: next }, 'connection status');
  data.status = next;
}
