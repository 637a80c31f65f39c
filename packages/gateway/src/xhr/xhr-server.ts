import { randomBytes } from 'node:crypto';
import type { SessionLink } from '@herald/broker';
import type { AppRegistry } from '@herald/config';
import type { Logger } from 'pino';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Connections } from '../connections.js';
import type { Hub } from '../hub.js';
import { countLimit, type Metrics } from '../metrics.js';
import { originAllowed } from '../origin.js';
import { closeLine, HEARTBEAT_LINE, parseSendBody } from './frames.js';
import { parseRelayMessage, RemoteReceiver, type RelayedRequest, type RelayMessage } from './relay.js';
import { answer, ResponseReceiver } from './response-receiver.js';
import { XhrSession, type ReceiverMode, type SessionHost } from './xhr-session.js';

export interface XhrOptions {
  maxPayloadLength: number;
  /** A session's buffer bound, as a WebSocket's (the slow-consumer sweep closes it at half). */
  maxBackpressure: number;
  /** A session without a receive request for this long is closed (the client went away). @default 10000 */
  detachedMs?: number;
  /** A stream quiet this long gets a heartbeat line; a poll held this long is answered with one. @default 25000 */
  heartbeatMs?: number;
  /**
   * How long a relayed request waits for the session's owner to answer before it ends with 1006
   * ("Session lost"): long enough to ride out an owner's stall, as its WebSocket clients would.
   * @default 10000
   */
  relayAnswerMs?: number;
}

/**
 * `.../app/{key}/{server}/{session}/{kind}`: pusher-js's paths under its `httpPath` (`/pusher` by
 * default); any prefix is accepted, so a balancer may publish them under another one.
 */
const PATH = /\/app\/([^/]+)\/(\d{1,6})\/([A-Za-z0-9_-]{1,64})\/(xhr_streaming|xhr|xhr_send)$/;
const DETACHED_MS = 10_000;
const HEARTBEAT_MS = 25_000;
const RELAY_ANSWER_MS = 10_000;
/** How long an owner with relayed requests may stay silent (it says it is alive every ALIVE_MS). */
const RELAY_SILENCE_MS = 15_000;
const ALIVE_MS = 5_000;
const REFRESH_MS = 600_000;
const NO_CONTENT = '204 No Content';

/**
 * pusher-js's HTTP fallback transports on the WebSocket port (docs/http-fallbacks.md): receive
 * requests (`xhr_streaming` keeps its response open, `xhr` is a long poll) and `xhr_send`, with
 * CORS. Each session is a connection like a WebSocket (xhr-session.ts). Clustered, the requests of
 * one session may reach any gateway: the one that opened it owns it, the others relay (relay.ts).
 */
export class XhrServer implements SessionHost {
  readonly #sessions = new Map<string, XhrSession>();
  readonly #dirty = new Set<XhrSession>();
  #flushing = false;
  /** On the owner: receivers other nodes serve, by receiver id. */
  readonly #remote = new Map<string, RemoteReceiver>();
  /** On other nodes: the requests they serve for an owner, by receiver id. */
  readonly #relayed = new Map<string, RelayedRequest>();
  readonly #timer: NodeJS.Timeout;
  readonly #refresh: NodeJS.Timeout | undefined;
  readonly #detachedMs: number;
  readonly #heartbeatMs: number;
  readonly #relayAnswerMs: number;
  #lastAlive = 0;
  /** Draining: no new session. */
  #stopping = false;
  #closed = false;

  constructor(
    uwsApp: TemplatedApp,
    private readonly hub: Hub,
    private readonly conns: Connections,
    private readonly apps: AppRegistry,
    private readonly link: SessionLink | undefined,
    private readonly metrics: Metrics,
    private readonly opts: XhrOptions,
    private readonly log: Logger,
  ) {
    this.#detachedMs = opts.detachedMs ?? DETACHED_MS;
    this.#heartbeatMs = opts.heartbeatMs ?? HEARTBEAT_MS;
    this.#relayAnswerMs = Math.min(opts.relayAnswerMs ?? RELAY_ANSWER_MS, RELAY_SILENCE_MS);
    uwsApp.options('/*', (res, req) => this.#preflight(res, req));
    uwsApp.post('/*', (res, req) => this.#post(res, req));
    this.#timer = setInterval(() => this.#tick(), Math.min(1000, this.#detachedMs / 4));
    this.#timer.unref();
    if (link !== undefined) {
      this.#refresh = setInterval(() => {
        link.refresh([...this.#sessions.keys()]).catch((err: Error) => log.warn({ err: err.message }, 'refreshing HTTP session entries failed'));
      }, REFRESH_MS);
      this.#refresh.unref();
    }
  }

  /** Sessions open on this node (closed ones waiting to hand over their close line excluded). */
  get sessions(): number {
    let n = 0;
    for (const s of this.#sessions.values()) if (s.closing === undefined) n++;
    return n;
  }

  // SessionHost

  subscribe(topic: string, s: XhrSession): boolean {
    return this.hub.subscribeSession(topic, s);
  }

  unsubscribe(topic: string, s: XhrSession): boolean {
    return this.hub.unsubscribeSession(topic, s);
  }

  isSubscribed(topic: string, s: XhrSession): boolean {
    return this.hub.sessionSubscribed(topic, s);
  }

  schedule(s: XhrSession): void {
    this.#dirty.add(s);
    if (this.#flushing) return;
    this.#flushing = true;
    setImmediate(() => {
      this.#flushing = false;
      const dirty = [...this.#dirty];
      this.#dirty.clear();
      for (const d of dirty) d.flush();
    });
  }

  closed(s: XhrSession, code: number, reason: string): void {
    this.conns.closed(s, code, reason);
  }

  // Requests

  #cors(origin: string): [string, string][] {
    return origin === ''
      ? [['Access-Control-Allow-Origin', '*']]
      : [
          ['Access-Control-Allow-Origin', origin],
          ['Access-Control-Allow-Credentials', 'true'],
          ['Vary', 'Origin'],
        ];
  }

  /**
   * Preflight of a cross-origin request: allowed for any origin of a known app, so that a page the
   * app does not allow hears why its session is refused (4009), as over a WebSocket; no session
   * opens for it and its sends are refused (403).
   */
  #preflight(res: HttpResponse, req: HttpRequest): void {
    const m = PATH.exec(req.getUrl());
    if (m === null || this.apps.byKey(m[1]!) === undefined) return answer(res, '404 Not Found', []);
    const asked = req.getHeader('access-control-request-headers');
    answer(res, NO_CONTENT, [
      ...this.#cors(req.getHeader('origin')),
      ['Access-Control-Allow-Methods', 'OPTIONS, POST'],
      ['Access-Control-Allow-Headers', asked === '' ? 'Content-Type' : asked],
      ['Access-Control-Max-Age', '86400'],
    ]);
  }

  #post(res: HttpResponse, req: HttpRequest): void {
    // Everything needed from req is copied now: req is invalid after this function returns.
    const m = PATH.exec(req.getUrl());
    if (m === null || this.#closed) return answer(res, '404 Not Found', []);
    const key = m[1]!;
    const id = `${key}/${m[2]!}/${m[3]!}`;
    const kind = m[4]!;
    const origin = req.getHeader('origin');
    const cors = this.#cors(origin);
    if (kind === 'xhr_send') return this.#send(res, id, key, origin, cors);
    const mode: ReceiverMode = kind === 'xhr' ? 'poll' : 'stream';
    const receiver = new ResponseReceiver(mode, res, cors, (r) => r.session?.resume(r));
    res.onAborted(() => {
      receiver.aborted();
      receiver.session?.detach(receiver);
      this.#endRelay(receiver);
    });
    // A receive request's body is empty; anything sent is read and dropped.
    res.onData(() => undefined);
    void this.#receive(receiver, id, key, req.getQuery('protocol') ?? '', origin, mode);
  }

  async #receive(receiver: ResponseReceiver, id: string, key: string, protocol: string, origin: string, mode: ReceiverMode): Promise<void> {
    let session = this.#sessions.get(id);
    if (session === undefined && this.link !== undefined) {
      let holder: string;
      try {
        holder = await this.link.claim(id);
      } catch (err) {
        // Without the directory a session still works through a balancer that keeps it on this node.
        this.log.warn({ err: (err as Error).message }, 'HTTP session directory unreachable: session held here unannounced');
        holder = this.link.nodeId;
      }
      if (receiver.done) {
        if (holder === this.link.nodeId && !this.#sessions.has(id)) void this.link.release(id).catch(() => undefined);
        return;
      }
      if (holder !== this.link.nodeId) return this.#relay(receiver, holder, id, mode);
      session = this.#sessions.get(id);
    }
    if (session === undefined && this.#stopping) {
      // A draining gateway opens no session: the client is sent elsewhere, on a new connection.
      if (this.link !== undefined) void this.link.release(id).catch(() => undefined);
      return receiver.refuse('503 Service Unavailable', [['Connection', 'close']]);
    }
    if (session === undefined) {
      const data = this.conns.admit(key, protocol, origin, mode === 'stream' ? 'xhr_streaming' : 'xhr_polling');
      session = new XhrSession(id, data, this, this.opts.maxBackpressure);
      data.ws = session;
      this.#sessions.set(id, session);
      this.conns.opened(session);
    }
    if (receiver.done) return;
    receiver.session = session;
    // A poll is the client's activity, as any frame would be.
    this.conns.seen(session.getUserData());
    session.attach(receiver);
  }

  #send(res: HttpResponse, id: string, key: string, origin: string, cors: [string, string][]): void {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    const app = this.apps.byKey(key);
    if (app === undefined || !originAllowed(app.allowedOrigins, origin)) {
      res.onData(() => undefined);
      return answer(res, '403 Forbidden', cors);
    }
    // Frames escaped in JSON strings grow: at most 6 bytes per byte (\u00XX).
    const limit = this.opts.maxPayloadLength * 6 + 64;
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    res.onData((chunk, isLast) => {
      if (over || aborted) return;
      size += chunk.byteLength;
      if (size > limit) {
        over = true;
        countLimit(this.metrics, 'frame_size');
        void this.#tooBig(id);
        return answer(res, '413 Payload Too Large', cors);
      }
      // The ArrayBuffer is neutered when this callback returns: copied.
      chunks.push(Buffer.from(Buffer.from(chunk)));
      if (!isLast) return;
      const frames = parseSendBody(Buffer.concat(chunks).toString('utf8'));
      if (frames === undefined) return answer(res, '400 Bad Request', cors, 'Broken JSON encoding.');
      void this.#deliverSend(id, frames).then(
        (status) => {
          if (!aborted) answer(res, status, cors);
        },
        () => {
          if (!aborted) answer(res, '503 Service Unavailable', cors);
        },
      );
    });
  }

  /** The frames of an xhr_send, to the session here or to its owner; answers the status to give. */
  async #deliverSend(id: string, frames: string[]): Promise<string> {
    const local = this.#sessions.get(id);
    if (local !== undefined) return local.closing === undefined ? this.#frames(local, frames) : '404 Not Found';
    if (this.link === undefined) return '404 Not Found';
    const holder = await this.link.holder(id);
    if (holder === undefined || holder === this.link.nodeId) return '404 Not Found';
    await this.link.sendToNode(holder, JSON.stringify({ t: 'in', s: id, f: frames } satisfies RelayMessage));
    return NO_CONTENT;
  }

  /** Hands a client's frames to the protocol; answers the status (413: one was over the frame limit, and the session closed). */
  #frames(s: XhrSession, frames: string[]): string {
    const data = s.getUserData();
    this.conns.seen(data);
    for (const f of frames) {
      if (s.closing !== undefined) return '404 Not Found';
      if (Buffer.byteLength(f) > this.opts.maxPayloadLength) {
        countLimit(this.metrics, 'frame_size');
        s.end(1009, 'Message too big');
        return '413 Payload Too Large';
      }
      this.conns.received(data, f);
    }
    return NO_CONTENT;
  }

  async #tooBig(id: string): Promise<void> {
    const local = this.#sessions.get(id);
    if (local !== undefined) local.end(1009, 'Message too big');
  }

  // Relaying

  #relay(receiver: ResponseReceiver, owner: string, session: string, mode: ReceiverMode): void {
    const r = randomBytes(9).toString('base64url');
    // Until the owner answers the client waits: relayAnswerMs without an answer ends it (#tick).
    this.#relayed.set(r, { receiver, owner, session, heardAt: Date.now() - (RELAY_SILENCE_MS - this.#relayAnswerMs) });
    const attach: RelayMessage = { t: 'attach', s: session, n: this.link!.nodeId, r, m: mode };
    this.link!.sendToNode(owner, JSON.stringify(attach)).catch((err: Error) => {
      this.log.warn({ err: err.message }, 'relaying an HTTP session request failed');
      this.#relayed.delete(r);
      receiver.end(closeLine(1006, 'Session lost'));
    });
  }

  #endRelay(receiver: ResponseReceiver): void {
    for (const [r, rq] of this.#relayed) {
      if (rq.receiver !== receiver) continue;
      this.#relayed.delete(r);
      const detach: RelayMessage = { t: 'detach', s: rq.session, r };
      this.link?.sendToNode(rq.owner, JSON.stringify(detach)).catch(() => undefined);
    }
  }

  /** A message from another node (BrokerHandler.onNodeMessage). */
  onNodeMessage(text: string): void {
    const m = parseRelayMessage(text);
    if (m === undefined || this.link === undefined) return;
    switch (m.t) {
      case 'in': {
        const s = this.#sessions.get(m.s);
        if (s !== undefined && s.closing === undefined && Array.isArray(m.f))
          this.#frames(
            s,
            m.f.filter((f) => typeof f === 'string'),
          );
        return;
      }
      case 'attach': {
        const s = this.#sessions.get(m.s);
        const rr = new RemoteReceiver(
          m.m === 'poll' ? 'poll' : 'stream',
          m.n,
          m.r,
          m.s,
          this.link,
          (ended) => this.#remote.delete(ended.id),
          (err) => this.log.debug({ err: err.message }, 'relayed lines lost'),
        );
        if (s === undefined) return rr.end(closeLine(1006, 'Session lost'));
        this.#remote.set(m.r, rr);
        rr.ack();
        this.conns.seen(s.getUserData());
        s.attach(rr);
        return;
      }
      case 'detach': {
        const rr = this.#remote.get(m.r);
        if (rr === undefined) return;
        this.#remote.delete(m.r);
        this.#sessions.get(m.s)?.detach(rr);
        return;
      }
      case 'out': {
        const rq = this.#relayed.get(m.r);
        if (rq === undefined) return;
        rq.heardAt = Date.now();
        if (m.e === 1) {
          this.#relayed.delete(m.r);
          rq.receiver.end(m.l);
        } else if (m.l !== '') {
          rq.receiver.write(m.l);
          // The owner cannot see this client's pace: a relay past the session's bound ends it, as the owner would (4100).
          if (rq.receiver.unread > this.opts.maxBackpressure) {
            this.#endRelay(rq.receiver);
            countLimit(this.metrics, 'slow_consumer');
            rq.receiver.end(closeLine(4100, 'Slow consumer'));
          }
        }
        return;
      }
      case 'alive': {
        const now = Date.now();
        for (const rq of this.#relayed.values()) if (rq.owner === m.n) rq.heardAt = now;
        return;
      }
    }
  }

  #tick(): void {
    const now = Date.now();
    for (const [id, s] of this.#sessions) {
      s.tick(now, this.#heartbeatMs);
      if (s.receiver !== undefined || now - s.detachedAt < this.#detachedMs) continue;
      if (s.closing === undefined) {
        // Nobody asked for this session's data for a while: the client is gone.
        s.end(1006, 'HTTP session abandoned');
        continue;
      }
      this.#sessions.delete(id);
      this.#dirty.delete(s);
      void this.link?.release(id).catch(() => undefined);
    }
    for (const [r, rq] of this.#relayed) {
      if (rq.receiver.done) {
        this.#relayed.delete(r);
      } else if (now - rq.heardAt > RELAY_SILENCE_MS) {
        this.#relayed.delete(r);
        rq.receiver.end(closeLine(1006, 'Session lost'));
      }
    }
    if (this.link !== undefined && this.#remote.size > 0 && now - this.#lastAlive >= ALIVE_MS) {
      this.#lastAlive = now;
      const alive = JSON.stringify({ t: 'alive', n: this.link.nodeId } satisfies RelayMessage);
      for (const node of new Set([...this.#remote.values()].map((rr) => rr.node))) this.link.sendToNode(node, alive).catch(() => undefined);
    }
  }

  /** Before the drain: from now on no session opens here. */
  stopAccepting(): void {
    this.#stopping = true;
  }

  /**
   * After the drain (every session closed with 4200): relayed polls are answered with a heartbeat
   * (their client asks again, through another gateway), relayed streams end with 4200, and this
   * node's session entries are released.
   */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    if (this.#refresh !== undefined) clearInterval(this.#refresh);
    for (const rq of this.#relayed.values()) rq.receiver.end(rq.receiver.mode === 'poll' ? HEARTBEAT_LINE : closeLine(4200, 'Gateway stopping'));
    this.#relayed.clear();
    const ids = [...this.#sessions.keys()];
    for (const s of this.#sessions.values()) s.end(4200, 'Gateway stopping');
    this.#sessions.clear();
    if (this.link !== undefined) await Promise.all(ids.map((id) => this.link!.release(id).catch(() => undefined)));
  }
}
