import { PusherEvent } from '@herald/protocol';
import { Backoff, IMMEDIATE_JITTER_MS, type ReconnectOptions } from './backoff.js';
import { ReconnectAction, reconnectActionFor } from './close-policy.js';
import { Emitter } from './emitter.js';
import { parseEventData, parseFrame, type IncomingFrame, type OutgoingFrame, type PushErrorEvent } from './frames.js';
import { alwaysOnline, type NetworkMonitor, type Platform, type Socket, type Transport } from './transport.js';
import { AfterFailure, TransportName, TransportSelector } from './transport-selector.js';

/** push.js's four states. `connecting`: a socket is opening or awaiting `connection_established`. */
export type ConnectionState = 'initialized' | 'connecting' | 'connected' | 'disconnected';

export interface StateChange {
  previous: ConnectionState;
  current: ConnectionState;
}

/** A transport the connection may use, and where it connects. */
export interface TransportCandidate {
  name: TransportName;
  /** `ws[s]://host[:port]/app/<key>?…`, or for an HTTP transport `http[s]://host[:port]/pusher/app/<key>?…`. */
  url: string;
  transport: Transport;
}

export interface ConnectionConfig {
  /** In the order they are tried (transport-selector.ts has the rules); at least one. */
  transports: TransportCandidate[];
  /** Ping period. Shortened to the server's `activity_timeout` when that is smaller. */
  heartbeatMs: number;
  /** Longest wait for any frame after a ping (and for `connection_established` after connecting). */
  pingTimeoutMs: number;
  reconnect: ReconnectOptions;
  random?: () => number;
}

/** How the connection reports to its client. */
export interface ConnectionHooks {
  /** `connection_established` arrived; `socket_id` is set and frames may be sent. */
  established(socketId: string): void;
  /** Every frame except the connection-level ones handled here (established, ping, pong). */
  frame(frame: IncomingFrame): void;
  /** An established connection is gone: every subscription is lost. */
  lost(): void;
  error(e: PushErrorEvent): void;
}

/** Local close reasons, mapped onto the Pusher ranges so one policy decides what follows. */
const LocalClose = {
  /** No frame after a ping: reconnect at once, as pusher-js does. */
  PongTimeout: { code: 4201, reason: 'Pong reply not received' },
  /** Socket error, failed open, handshake timeout: ordinary back-off. */
  Failure: { code: 1006, reason: 'Connection failed' },
} as const;

/** Pusher close codes: a socket closed with one was closed by the server, so its transport works. */
const isServerCode = (code: number) => code >= 4000 && code <= 4999;

const PING = JSON.stringify({ event: PusherEvent.Ping, data: {} });
const PONG = JSON.stringify({ event: PusherEvent.Pong, data: {} });

type Timer = ReturnType<typeof setTimeout>;

/**
 * `push.connection`: one socket at a time, its heartbeat, reconnects, and the choice between the
 * WebSocket and the HTTP fallback transports (transport-selector.ts). Emits `state_change`
 * (`{previous, current}`), one event per state (`connected`, `disconnected`, …), `message` (every
 * frame), `reconnecting` (`{delayMs, code, transport}`) and `error`.
 */
export class Connection extends Emitter {
  state: ConnectionState = 'initialized';
  /** Set by `connection_established`, cleared when that socket is gone. */
  socket_id: string | undefined = undefined;
  /** The transport of the current (or last) attempt: `ws`, `xhr_streaming` or `xhr_polling`; undefined before the first. */
  transport: TransportName | undefined = undefined;

  private socket: Socket | undefined;
  /** Bumped whenever the current socket is abandoned: callbacks of older sockets are ignored. */
  private generation = 0;
  /** True before `connect()`, after `disconnect()` and after a refusing close code. */
  private stopped = true;
  private waitingForNetwork = false;
  private activityTimeoutMs = Infinity;
  private readonly backoff: Backoff;
  private readonly network: NetworkMonitor;
  private readonly random: () => number;
  private readonly selector: TransportSelector;
  private reconnectTimer: Timer | undefined;
  private pingTimer: Timer | undefined;
  private pongTimer: Timer | undefined;
  private handshakeTimer: Timer | undefined;
  private unsubscribeNetwork: (() => void) | undefined;

  constructor(
    private readonly config: ConnectionConfig,
    private readonly platform: Platform,
    private readonly hooks: ConnectionHooks,
  ) {
    super();
    this.random = config.random ?? (() => Math.random());
    this.backoff = new Backoff(config.reconnect, this.random);
    this.network = platform.network ?? alwaysOnline;
    this.selector = new TransportSelector(config.transports.map((t) => t.name));
  }

  /** Starts connecting (after `disconnect()` or a refusing close code too). No-op while running. */
  connect(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.unsubscribeNetwork = this.network.subscribe((online) => this.onNetworkChange(online));
    this.backoff.reset();
    this.selector.start();
    this.open();
  }

  /** Closes the socket and stays disconnected until `connect()`. */
  disconnect(): void {
    const wasRunning = !this.stopped;
    const wasEstablished = this.socket_id !== undefined;
    this.stop();
    const socket = this.socket;
    this.abandonSocket();
    try {
      socket?.close(1000, 'Client disconnect');
    } catch {
      /* already closed */
    }
    if (wasEstablished) this.hooks.lost();
    if (wasRunning || this.state !== 'initialized') this.setState('disconnected');
  }

  /** Sends a frame on the established connection; false (frame dropped) otherwise. */
  send(frame: OutgoingFrame): boolean {
    if (this.socket_id === undefined || !this.socket) return false;
    try {
      this.socket.send(JSON.stringify(frame));
      return true;
    } catch (error) {
      this.hooks.error({ type: 'WebSocketError', message: 'Send failed', error });
      return false;
    }
  }

  private open(): void {
    this.clearTimer('reconnectTimer');
    if (this.stopped) return;
    if (!this.network.isOnline()) {
      // Offline: no attempts at all until the `online` event.
      this.waitingForNetwork = true;
      this.setState('disconnected');
      return;
    }
    this.waitingForNetwork = false;
    const gen = ++this.generation;
    const current = () => gen === this.generation;
    const candidate = this.config.transports.find((t) => t.name === this.selector.current)!;
    this.transport = candidate.name;
    const ws = candidate.name === TransportName.WebSocket;
    const errorType = ws ? 'WebSocketError' : 'TransportError';
    this.setState('connecting');
    this.handshakeTimer = setTimeout(() => {
      if (current()) this.fail(LocalClose.Failure.code, 'No connection_established in time', true);
    }, this.config.pingTimeoutMs);
    let socket: Socket;
    try {
      socket = candidate.transport.connect(candidate.url, {
        onOpen: () => undefined, // the connection counts once `connection_established` arrives
        onMessage: (text) => {
          if (current()) this.receive(text);
        },
        onClose: ({ code, reason }) => {
          if (current()) this.ended(code, reason);
        },
        onError: (error) => {
          if (!current()) return;
          this.hooks.error({ type: errorType, message: ws ? 'WebSocket error' : `${candidate.name} request failed`, error });
          this.fail(LocalClose.Failure.code, LocalClose.Failure.reason);
        },
      });
    } catch (error) {
      this.hooks.error({ type: errorType, message: `Cannot open ${candidate.url}`, error });
      this.ended(LocalClose.Failure.code, LocalClose.Failure.reason);
      return;
    }
    if (current()) this.socket = socket;
    else socket.close(1000); // failed synchronously inside connect()
  }

  private receive(text: string): void {
    // Any frame proves the link is alive.
    this.clearTimer('pongTimer');
    const frame = parseFrame(text);
    if (!frame) {
      this.hooks.error({ type: 'InvalidFrame', message: 'Received a frame that is not a JSON event', data: text });
      return;
    }
    this.emit('message', frame);
    switch (frame.event) {
      case PusherEvent.ConnectionEstablished:
        return this.established(parseEventData(frame.data));
      case PusherEvent.Ping:
        this.socket?.send(PONG);
        return;
      case PusherEvent.Pong:
        return;
      default:
        this.hooks.frame(frame);
    }
  }

  private established(data: unknown): void {
    const { socket_id, activity_timeout } = (data ?? {}) as { socket_id?: unknown; activity_timeout?: unknown };
    if (typeof socket_id !== 'string' || socket_id === '') {
      this.hooks.error({ type: 'InvalidFrame', message: 'connection_established without a socket_id', data });
      return this.fail(LocalClose.Failure.code, 'Invalid handshake');
    }
    this.clearTimer('handshakeTimer');
    this.socket_id = socket_id;
    this.activityTimeoutMs = typeof activity_timeout === 'number' && activity_timeout > 0 ? activity_timeout * 1000 : Infinity;
    this.backoff.reset();
    this.selector.established();
    this.schedulePing();
    // Subscriptions go out before listeners hear `connected`, so a listener that subscribes
    // a new channel is not subscribed twice.
    this.hooks.established(socket_id);
    this.setState('connected');
  }

  /** Pings every `heartbeat` ms (or the server's activity_timeout, if shorter) while connected. */
  private schedulePing(): void {
    this.clearTimer('pingTimer');
    const every = Math.min(this.config.heartbeatMs, this.activityTimeoutMs);
    this.pingTimer = setTimeout(() => this.ping(), every);
  }

  private ping(): void {
    if (this.socket_id === undefined || !this.socket) return;
    try {
      this.socket.send(PING);
    } catch {
      /* a dead socket: the pong timer below notices */
    }
    if (this.pongTimer === undefined) {
      this.pongTimer = setTimeout(() => {
        this.pongTimer = undefined;
        this.fail(LocalClose.PongTimeout.code, LocalClose.PongTimeout.reason);
      }, this.config.pingTimeoutMs);
    }
    this.schedulePing();
  }

  /** Drops the current socket locally (without waiting for a close event that may never come). */
  private fail(code: number, reason: string, timedOut = false): void {
    const socket = this.socket;
    this.ended(code, reason, timedOut);
    try {
      socket?.close(1000, reason);
    } catch {
      /* already closed */
    }
  }

  /** The current socket is gone (closed by either side): report it and decide what comes next. */
  private ended(code: number, reason: string, timedOut = false): void {
    const wasEstablished = this.socket_id !== undefined;
    this.abandonSocket();
    if (wasEstablished) this.hooks.lost();
    let afterFailure: AfterFailure | undefined;
    if (wasEstablished) this.selector.start();
    else if (isServerCode(code)) this.selector.reached();
    else afterFailure = this.selector.failed(timedOut);
    // Moving to another transport is not a retry of the one that failed: no back-off for it.
    const action = afterFailure === AfterFailure.Next ? ReconnectAction.Now : reconnectActionFor(code);
    if (action === ReconnectAction.Never) {
      this.stop();
      this.hooks.error({ type: 'Refused', code, message: reason || `Connection refused with close code ${code}` });
      this.setState('disconnected');
      return;
    }
    this.setState('disconnected');
    this.scheduleReconnect(action, code);
  }

  private scheduleReconnect(action: ReconnectAction, code: number): void {
    if (this.stopped) return;
    if (!this.network.isOnline()) {
      this.waitingForNetwork = true;
      return;
    }
    const delayMs =
      action === ReconnectAction.Now
        ? Math.floor(this.random() * IMMEDIATE_JITTER_MS)
        : action === ReconnectAction.SlowBackoff
          ? Math.max(this.config.reconnect.minDelayMs, this.backoff.next())
          : this.backoff.next();
    this.clearTimer('reconnectTimer');
    this.reconnectTimer = setTimeout(() => this.open(), delayMs);
    this.emit('reconnecting', { delayMs, code, transport: this.selector.current });
  }

  private onNetworkChange(online: boolean): void {
    if (this.stopped) return;
    if (online) {
      if (this.waitingForNetwork || this.reconnectTimer !== undefined) {
        // Back online: retry now rather than at the end of a long back-off, from the remembered
        // transport (failures while the network was half there say nothing about the transports).
        this.backoff.reset();
        this.selector.start();
        this.open();
      } else if (this.socket_id !== undefined) {
        // The socket may have died silently while offline: check it now.
        this.ping();
      }
    } else if (this.reconnectTimer !== undefined) {
      this.clearTimer('reconnectTimer');
      this.waitingForNetwork = true;
    }
  }

  private abandonSocket(): void {
    this.generation++;
    this.socket = undefined;
    this.socket_id = undefined;
    this.clearTimer('pingTimer');
    this.clearTimer('pongTimer');
    this.clearTimer('handshakeTimer');
  }

  private stop(): void {
    this.stopped = true;
    this.waitingForNetwork = false;
    this.clearTimer('reconnectTimer');
    this.unsubscribeNetwork?.();
    this.unsubscribeNetwork = undefined;
  }

  private clearTimer(name: 'reconnectTimer' | 'pingTimer' | 'pongTimer' | 'handshakeTimer'): void {
    const t = this[name];
    if (t !== undefined) clearTimeout(t);
    this[name] = undefined;
  }

  private setState(next: ConnectionState): void {
    if (next === this.state) return;
    const previous = this.state;
    this.state = next;
    this.emit('state_change', { previous, current: next } satisfies StateChange);
    this.emit(next);
  }
}
