import { randomBytes, randomInt } from 'node:crypto';
import {
  PusherError,
  pusherError,
  appDisabled,
  appNotFound,
  encodeConnectionEstablished,
  overCapacity,
  overConnectionQuota,
  parseClientFrame,
  pathNotFound,
  pongTimeout,
  PING_FRAME,
  PONG_FRAME,
  toPusherError,
  unsupportedProtocol,
} from '@herald/protocol';
import type { Logger } from 'pino';
import { createApp, type AppRegistry, type App } from '@herald/config';
import type { HandlerContext } from './context.js';
import { shownReason } from './debug-records.js';
import { handleClientEvent } from './handlers/client-event.js';
import { signout, handleSignin } from './handlers/signin.js';
import { handleSubscribe } from './handlers/subscribe.js';
import { handleUnsubscribe, leaveChannel } from './handlers/unsubscribe.js';
import { closeWithError, sendError, sendFrame } from './hub.js';
import { countLimit } from './metrics.js';
import { originAllowed } from './origin.js';
import { IDLE_QUEUE, queueOnSocket, setStatus, socketLog, Subscriptions, type ClientSocket, type SocketData, type Transport } from './socket-data.js';

/** The app of a connection refused before any app was found (an unknown key): it is closed at once. */
const REJECTED_APP: App = createApp('-', '-', randomBytes(16).toString('hex'));

export interface ConnectionOptions {
  /** Seconds of client silence before the server pings it (also announced to clients). */
  activityTimeout: number;
  maxBackpressure: number;
  /** How long a pinged socket has to answer before it is closed with 4201. @default 30000 */
  pongWaitMs?: number;
  /** How often silent sockets are looked for. @default 5000 */
  sweepMs?: number;
  /** New connections accepted per second on this node; 0: unlimited. */
  maxConnectionsPerSecond?: number;
  /** Frames of one socket waiting to be handled; one more closes the socket with 4301. @default 100 */
  maxQueuedFrames?: number;
}

/** Per-connection state before it opens: the app, or why the connection is refused once open. */
export interface PendingSocketData extends SocketData {
  rejection?: PusherError;
  /** The Origin header, kept only while the app is watched (for connection_opened). */
  origin?: string;
}

const PONG_WAIT_MS = 30_000;
const MAX_QUEUED_FRAMES = 100;
const SWEEP_MS = 5_000;

/**
 * The Pusher protocol over any transport (ws-server.ts for WebSockets, xhr/ for HTTP sessions):
 * admission (app lookup, protocol, origin, rate and quota), open (connection_established), frames
 * (decoded and dispatched; one socket's in order), close (cluster state undone), and the sweeps
 * that ping silent sockets (4201 if still silent) and close slow consumers (4100).
 */
export class Connections {
  readonly #nodePart = randomInt(1, 2 ** 31);
  #counter = 0;
  readonly #sweep: NodeJS.Timeout;
  readonly #backpressure: NodeJS.Timeout;
  readonly #appConnections = new Map<string, number>();
  readonly #cleanups = new Set<Promise<void>>();
  #rateWindow = 0;
  #rateCount = 0;
  readonly pongWaitMs: number;
  readonly sweepMs: number;
  readonly #maxQueued: number;

  constructor(
    private readonly apps: AppRegistry,
    private readonly ctx: HandlerContext,
    readonly opts: ConnectionOptions,
    private readonly log: Logger,
  ) {
    this.pongWaitMs = opts.pongWaitMs ?? PONG_WAIT_MS;
    this.sweepMs = opts.sweepMs ?? SWEEP_MS;
    this.#maxQueued = opts.maxQueuedFrames ?? MAX_QUEUED_FRAMES;
    this.#sweep = setInterval(() => this.#sweepIdle(), this.sweepMs);
    this.#sweep.unref();
    this.#backpressure = setInterval(() => this.#checkBackpressure(), 250);
    this.#backpressure.unref();
  }

  /** Per-node connection rate: a token bucket refilled every second. */
  #admit(): boolean {
    const max = this.opts.maxConnectionsPerSecond ?? 0;
    if (max <= 0) return true;
    const now = Date.now();
    if (now - this.#rateWindow >= 1000) {
      this.#rateWindow = now;
      this.#rateCount = 0;
    }
    if (++this.#rateCount > max) {
      this.ctx.metrics.admissionRefused.inc({ reason: 'rate' });
      countLimit(this.ctx.metrics, 'connection_rate');
      return false;
    }
    return true;
  }

  #nextSocketId(): string {
    this.#counter = (this.#counter + 1) % Number.MAX_SAFE_INTEGER;
    return `${this.#nodePart}.${this.#counter}`;
  }

  /**
   * The state of a new connection to the app of `key` (found in the request's path: '' when the
   * path has none), refused when the app, the protocol version, the origin, the node's connection
   * rate or the app's connection quota says so. A refused connection is opened, told why and closed.
   */
  admit(key: string, protocol: string, origin: string, transport: Transport): PendingSocketData {
    const app = key === '' ? undefined : this.apps.byKey(key);
    let rejection: PusherError | undefined;
    if (key === '') rejection = pathNotFound();
    else if (app === undefined) rejection = appNotFound(key.slice(0, 64));
    else if (!app.enabled) rejection = appDisabled();
    else if (protocol !== '' && !/^[5-7]$/.test(protocol)) rejection = unsupportedProtocol(protocol.slice(0, 16));
    else if (!originAllowed(app.allowedOrigins, origin)) {
      rejection = pusherError('Unauthorized', `Origin not allowed: ${origin.slice(0, 100)}`);
    } else if (!this.#admit()) rejection = overCapacity();
    else if (app.limits.maxConnections > 0 && this.ctx.state.usage.clusterConnections(app.id) >= app.limits.maxConnections) {
      rejection = overConnectionQuota();
      countLimit(this.ctx.metrics, 'app_connections');
    }
    return {
      socketId: this.#nextSocketId(),
      app: app ?? REJECTED_APP,
      status: 'upgrading',
      transport,
      channels: new Subscriptions(),
      queue: IDLE_QUEUE,
      queued: 0,
      lastSeen: Date.now(),
      pingSentAt: 0,
      clientEventWindow: 0,
      clientEventCount: 0,
      baseLog: this.log,
      debug: this.ctx.debug,
      ...(rejection ? { rejection } : {}),
      ...(origin !== '' && app !== undefined && this.ctx.debug.watching(app.id) ? { origin } : {}),
    };
  }

  /** The connection is open (`data.ws` set): connection_established, or the refusal and a close. */
  opened(sock: ClientSocket): void {
    const data = sock.getUserData() as PendingSocketData;
    setStatus(data, 'open');
    if (data.rejection !== undefined) {
      socketLog(data).debug({ code: data.rejection.code }, 'connection refused');
      this.ctx.metrics.errors.inc({ code: String(data.rejection.code) });
      closeWithError(data, data.rejection, this.ctx.metrics);
      return;
    }
    const appId = data.app.id;
    const n = (this.#appConnections.get(appId) ?? 0) + 1;
    this.#appConnections.set(appId, n);
    this.ctx.state.usage.setLocalConnections(appId, n);
    this.ctx.hub.add(sock);
    this.ctx.metrics.connections.inc({ app: appId, transport: data.transport });
    this.ctx.metrics.connectionsTotal.inc({ app: appId, transport: data.transport });
    sendFrame(data, encodeConnectionEstablished(data.socketId, this.opts.activityTimeout), this.ctx.metrics);
    const { debug } = this.ctx;
    if (debug.watching(appId)) {
      debug.emit(appId, {
        kind: 'connection_opened',
        socketId: data.socketId,
        ...(data.origin !== undefined ? { origin: data.origin } : {}),
        transport: data.transport,
      });
    }
  }

  /** Client activity that carries no frame (an HTTP heartbeat or poll). */
  seen(data: SocketData): void {
    data.lastSeen = Date.now();
    data.pingSentAt = 0;
  }

  /** One text frame from the client. */
  received(data: PendingSocketData, text: string): void {
    const now = Date.now();
    data.lastSeen = now;
    data.pingSentAt = 0;
    this.ctx.metrics.messagesIn.inc();
    if (data.rejection !== undefined) return;
    let frame;
    try {
      frame = parseClientFrame(text);
    } catch (err) {
      socketLog(data).debug({ reason: (err as Error).message }, 'bad frame');
      sendError(data, toPusherError(err), this.ctx.metrics);
      return;
    }
    switch (frame.kind) {
      case 'ping':
        sendFrame(data, PONG_FRAME, this.ctx.metrics);
        return;
      case 'pong':
      case 'ignored':
        return;
      case 'subscribe':
        return this.#enqueue(data, () => handleSubscribe(this.ctx, data, frame.channel, frame.auth, frame.channelData, frame.position));
      case 'unsubscribe':
        return this.#enqueue(data, () => handleUnsubscribe(this.ctx, data, frame.channel));
      case 'signin':
        return this.#enqueue(data, () => handleSignin(this.ctx, data, frame.auth, frame.userData));
      case 'client-event':
        return this.#enqueue(data, () => handleClientEvent(this.ctx, data, frame.event, frame.channel, frame.data, now));
    }
  }

  /**
   * Runs `fn` after the socket's earlier frames; skipped if the socket closed meanwhile. A socket
   * with `maxQueuedFrames` frames already waiting is closed (4301): each waiting frame holds its
   * decoded payload (up to the frame limit) until its turn.
   */
  #enqueue(data: SocketData, fn: () => Promise<void>): void {
    if (data.queued >= this.#maxQueued) {
      countLimit(this.ctx.metrics, 'frame_queue');
      socketLog(data).warn({ queued: data.queued }, 'too many frames waiting: socket closed');
      closeWithError(data, pusherError('TooManyQueuedFrames', this.#maxQueued), this.ctx.metrics);
      return;
    }
    data.queued++;
    void queueOnSocket(data, async () => {
      try {
        if (data.status === 'open') await fn();
      } catch (err) {
        socketLog(data).error({ err }, 'frame handler failed');
        sendError(data, toPusherError(err), this.ctx.metrics);
      } finally {
        data.queued--;
      }
    });
  }

  /** The connection closed (either side): its subscriptions, memberships and sign-in are undone. */
  closed(sock: ClientSocket, code: number, reason: string): void {
    const data = sock.getUserData() as PendingSocketData;
    setStatus(data, 'closed');
    data.ws = undefined;
    if (data.rejection !== undefined) return;
    this.ctx.hub.remove(sock);
    const appId = data.app.id;
    const left = Math.max(0, (this.#appConnections.get(appId) ?? 1) - 1);
    this.#appConnections.set(appId, left);
    this.ctx.state.usage.setLocalConnections(appId, left);
    this.ctx.metrics.connections.dec({ app: appId, transport: data.transport });
    socketLog(data).debug({ code }, 'connection closed');
    const { debug } = this.ctx;
    if (debug.watching(appId)) {
      debug.emit(appId, { kind: 'connection_closed', socketId: data.socketId, code, reason: shownReason(reason) });
    }
    // Queued behind in-flight handlers so that their joins are undone, not raced.
    const cleanup = queueOnSocket(data, async () => {
      try {
        for (const channel of data.channels.names()) await leaveChannel(this.ctx, data, channel);
        await signout(this.ctx, data);
      } catch (err) {
        socketLog(data).error({ err }, 'cleanup after close failed');
      }
    });
    this.#cleanups.add(cleanup);
    void cleanup.then(() => this.#cleanups.delete(cleanup));
  }

  /**
   * A client that does not read its data is closed with 4100 (back off, then reconnect) once half of
   * maxBackpressure is buffered for it, so its memory stays bounded and others are not slowed.
   */
  #checkBackpressure(): void {
    const slow = this.opts.maxBackpressure / 2;
    for (const ws of this.ctx.hub.sockets.values()) {
      if (ws.getBufferedAmount() <= slow) continue;
      const d = ws.getUserData();
      this.ctx.metrics.slowConsumers.inc();
      countLimit(this.ctx.metrics, 'slow_consumer');
      socketLog(d).warn({ buffered: ws.getBufferedAmount(), transport: d.transport }, 'slow consumer closed');
      closeWithError(d, pusherError('SlowConsumer'), this.ctx.metrics);
    }
  }

  /** Pings sockets silent for longer than the activity timeout; closes them 4201 if still silent. */
  #sweepIdle(): void {
    const now = Date.now();
    const idleMs = this.opts.activityTimeout * 1000;
    for (const ws of this.ctx.hub.sockets.values()) {
      const d = ws.getUserData();
      if (d.pingSentAt !== 0) {
        if (now - d.pingSentAt > this.pongWaitMs) closeWithError(d, pongTimeout(), this.ctx.metrics);
      } else if (now - d.lastSeen > idleMs) {
        d.pingSentAt = now;
        sendFrame(d, PING_FRAME, this.ctx.metrics);
      }
    }
  }

  /** Number of open connections of an app on this node. */
  connections(appId: string): number {
    return this.#appConnections.get(appId) ?? 0;
  }

  /**
   * Tells every client to reconnect elsewhere (4200), spread over `drainMs` so that they do not all
   * come back at the same instant.
   */
  async drain(drainMs: number): Promise<void> {
    const sockets = [...this.ctx.hub.sockets.values()];
    const err = pusherError('ReconnectNow');
    const step = sockets.length > 0 && drainMs > 0 ? drainMs / sockets.length : 0;
    for (let i = 0; i < sockets.length; i++) {
      const ws = sockets[i]!;
      closeWithError(ws.getUserData(), err, this.ctx.metrics);
      if (step > 0 && i % 100 === 99) await new Promise((r) => setTimeout(r, step * 100));
    }
  }

  /** Stops the sweeps and resolves once the cleanups of closed sockets have finished. */
  async settled(): Promise<void> {
    clearInterval(this.#sweep);
    clearInterval(this.#backpressure);
    while (this.#cleanups.size > 0) await Promise.all([...this.#cleanups]);
  }
}
