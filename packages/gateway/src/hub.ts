import type { ControlCommand, LocalContribution, Publication } from '@herald/broker';
import { type PusherError, encodeError, pusherError, encodeWatchlistEvents, type PusherErrorCode as Code } from '@herald/protocol';
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import type { App } from '@herald/config';
import { shownReason } from './debug-records.js';
import type { Metrics } from './metrics.js';
import type { ClientSocket, SessionSocket, SocketData } from './socket-data.js';
import { encodeFrame } from './xhr/frames.js';

const key = (appId: string, id: string) => `${appId}\n${id}`;

/** How every member_added / member_removed frame starts (encode.ts writes `event` first). */
const MEMBER_EVENT_PREFIX = '{"event":"pusher_internal:member_';
const MEMBER_EVENT_PREFIX_BYTES = Buffer.from(MEMBER_EVENT_PREFIX);
const isMemberEvent = (frame: string | Uint8Array) =>
  typeof frame === 'string'
    ? frame.startsWith(MEMBER_EVENT_PREFIX)
    : frame.byteLength >= MEMBER_EVENT_PREFIX_BYTES.length && MEMBER_EVENT_PREFIX_BYTES.equals(frame.subarray(0, MEMBER_EVENT_PREFIX_BYTES.length));

/**
 * Per topic, sockets held off it for a while, and the frames published to it meanwhile that
 * `records` takes (not those a socket is excluded from), in order.
 */
class FrameHolds {
  readonly #byTopic = new Map<string, Map<string, (string | Uint8Array)[]>>();

  constructor(private readonly records: (frame: string | Uint8Array) => boolean) {}

  /** Topics with a socket held: 0 keeps delivery to one comparison. */
  get size(): number {
    return this.#byTopic.size;
  }

  sockets(topic: string): Iterable<string> {
    return this.#byTopic.get(topic)?.keys() ?? [];
  }

  start(topic: string, socketId: string): void {
    let w = this.#byTopic.get(topic);
    if (w === undefined) this.#byTopic.set(topic, (w = new Map<string, (string | Uint8Array)[]>()));
    w.set(socketId, []);
  }

  take(topic: string, socketId: string): (string | Uint8Array)[] {
    const w = this.#byTopic.get(topic);
    const frames = w?.get(socketId) ?? [];
    w?.delete(socketId);
    if (w !== undefined && w.size === 0) this.#byTopic.delete(topic);
    return frames;
  }

  record(topic: string, pub: Publication): void {
    const w = this.#byTopic.get(topic);
    if (w === undefined || !this.records(pub.frame)) return;
    // A copy: the frame may be a slice of a buffer the Redis client reuses.
    const frame = typeof pub.frame === 'string' ? pub.frame : Buffer.from(pub.frame);
    for (const [socketId, frames] of w) if (socketId !== pub.exceptSocketId) frames.push(frame);
  }
}

/**
 * The local sockets of this node, indexed for what the broker delivers: by socket id (exclusion),
 * by signed-in user (terminate, watchlists). Channel fan-out itself is uWebSockets.js topics, so a
 * publication costs one native call whatever the number of subscribers.
 */
export class Hub {
  readonly sockets = new Map<string, ClientSocket>();
  /** Subscribers of each topic that are HTTP sessions: uWebSockets.js topics hold WebSockets only. */
  readonly #sessionTopics = new Map<string, Set<SessionSocket>>();
  readonly #users = new Map<string, Set<ClientSocket>>();
  readonly #watchers = new Map<string, Set<ClientSocket>>();
  readonly #topicPrefix = new Map<string, string>();
  /** Version of the last online/offline applied per watched user: an older one arriving later is stale. */
  readonly #presenceVersion = new Map<string, number>();
  /** Sockets waiting for their member list, and the member events they got meanwhile. */
  readonly #memberWatch = new FrameHolds(isMemberEvent);
  /** Sockets catching up on a history channel, and its other frames they got meanwhile. */
  readonly #eventWatch = new FrameHolds((frame) => !isMemberEvent(frame));

  constructor(
    private readonly uws: TemplatedApp,
    private readonly metrics: Metrics,
    apps: readonly App[],
  ) {
    for (const a of apps) this.addApp(a);
  }

  /** An app added at run time: its channels get topics of their own. */
  addApp(app: App): void {
    this.#topicPrefix.set(app.id, `${app.index}:`);
  }

  /** A deleted app: once its sockets are closed its topics have no subscriber left. */
  removeApp(appId: string): void {
    this.#topicPrefix.delete(appId);
  }

  /** Closes every open socket of the app with the error (the app was disabled or deleted). */
  closeApp(appId: string, err: PusherError): number {
    let closed = 0;
    for (const ws of this.sockets.values()) {
      const d = ws.getUserData();
      if (d.app.id === appId && d.status === 'open') {
        closeWithError(d, err, this.metrics);
        closed++;
      }
    }
    return closed;
  }

  /** uWebSockets.js topic of a channel: the app's index and the channel name (no `:` in names). */
  topic(appId: string, channel: string): string {
    return (this.#topicPrefix.get(appId) ?? `${appId}:`) + channel;
  }

  /** Local sockets subscribed to the channel, or joining it (waiting for their member list). */
  localSubscribers(appId: string, channel: string): number {
    const topic = this.topic(appId, channel);
    const n = this.uws.numSubscribers(topic) + (this.#sessionTopics.size === 0 ? 0 : (this.#sessionTopics.get(topic)?.size ?? 0));
    if (this.#memberWatch.size === 0 && this.#eventWatch.size === 0) return n;
    // A socket joining a presence channel with history is held by both.
    const held = new Set([...this.#memberWatch.sockets(topic), ...this.#eventWatch.sockets(topic)]);
    return n + held.size;
  }

  /** An HTTP session joins a topic (ClientSocket.subscribe); false if it was in it already. */
  subscribeSession(topic: string, session: SessionSocket): boolean {
    let set = this.#sessionTopics.get(topic);
    if (set === undefined) this.#sessionTopics.set(topic, (set = new Set()));
    if (set.has(session)) return false;
    set.add(session);
    return true;
  }

  unsubscribeSession(topic: string, session: SessionSocket): boolean {
    const set = this.#sessionTopics.get(topic);
    if (set?.delete(session) !== true) return false;
    if (set.size === 0) this.#sessionTopics.delete(topic);
    return true;
  }

  sessionSubscribed(topic: string, session: SessionSocket): boolean {
    return this.#sessionTopics.get(topic)?.has(session) === true;
  }

  add(ws: ClientSocket): void {
    this.sockets.set(ws.getUserData().socketId, ws);
  }

  remove(ws: ClientSocket): void {
    const d = ws.getUserData();
    this.sockets.delete(d.socketId);
    if (d.userId !== undefined) this.#drop(this.#users, key(d.app.id, d.userId), ws);
    for (const id of d.watchlist ?? []) {
      const k = key(d.app.id, id);
      this.#drop(this.#watchers, k, ws);
      if (!this.#watchers.has(k)) this.#presenceVersion.delete(k);
    }
  }

  addUser(ws: ClientSocket, userId: string, watchlist: readonly string[]): void {
    const appId = ws.getUserData().app.id;
    this.#put(this.#users, key(appId, userId), ws);
    for (const id of watchlist) this.#put(this.#watchers, key(appId, id), ws);
  }

  /** Users signed in on this node's sockets of the app. */
  localUsers(appId: string): Set<string> {
    const out = new Set<string>();
    const head = `${appId}\n`;
    for (const k of this.#users.keys()) if (k.startsWith(head)) out.add(k.slice(head.length));
    return out;
  }

  /** Every subscription, presence membership and sign-in held by local sockets. */
  localState(): LocalContribution[] {
    const out: LocalContribution[] = [];
    for (const ws of this.sockets.values()) {
      const d = ws.getUserData();
      const appId = d.app.id;
      for (const [channel, sub] of d.channels) {
        out.push({ kind: 'subscription', appId, channel, socketId: d.socketId });
        if (sub.presenceUserId !== undefined) {
          const member = sub.presenceUserInfo === undefined ? { userId: sub.presenceUserId } : { userId: sub.presenceUserId, userInfo: sub.presenceUserInfo };
          out.push({ kind: 'presence', appId, channel, socketId: d.socketId, member });
        }
      }
      if (d.userId !== undefined) out.push({ kind: 'user', appId, userId: d.userId, socketId: d.socketId });
    }
    return out;
  }

  /**
   * Starts recording the member events published to the channel for `socketId` (not those it is
   * excluded from), until takeMemberEvents; the socket counts as a local subscriber meanwhile. A
   * member list is read (over Redis's command connection) while member events arrive (over its
   * pub/sub connection): one decided after the list was read may arrive before it, and a client that
   * then replaces its list with the older one loses that member. Applied after the list, the events
   * recorded meanwhile leave each user as its latest event says (they come in the order Redis
   * decided them, and each user's alternate added/removed).
   */
  watchMemberEvents(appId: string, channel: string, socketId: string): void {
    this.#memberWatch.start(this.topic(appId, channel), socketId);
  }

  /** Stops recording for the socket; returns the member event frames it received meanwhile, in order. */
  takeMemberEvents(appId: string, channel: string, socketId: string): (string | Uint8Array)[] {
    return this.#memberWatch.take(this.topic(appId, channel), socketId);
  }

  /**
   * Starts recording the frames other than member events published to the channel for `socketId`
   * (not those it is excluded from), until takeEvents; the socket counts as a local subscriber
   * meanwhile. A socket catching up on a history channel stays off the topic while its history is
   * read; what was published meanwhile follows the replay, minus what the replay held (recovery.ts).
   */
  watchEvents(appId: string, channel: string, socketId: string): void {
    this.#eventWatch.start(this.topic(appId, channel), socketId);
  }

  /** Stops recording for the socket; returns the frames it received meanwhile, in order. */
  takeEvents(appId: string, channel: string, socketId: string): (string | Uint8Array)[] {
    return this.#eventWatch.take(this.topic(appId, channel), socketId);
  }

  /** Delivers a publication to local subscribers; never parses the frame. */
  deliver(pub: Publication): void {
    const topic = this.topic(pub.appId, pub.channel);
    // A socket joining a presence channel is not subscribed to its topic yet: recorded here.
    if (this.#memberWatch.size > 0) this.#memberWatch.record(topic, pub);
    // Nor one catching up on a history channel.
    if (this.#eventWatch.size > 0) this.#eventWatch.record(topic, pub);
    const n = this.uws.numSubscribers(topic);
    // HTTP sessions: one map size check while there are none.
    const sessions = this.#sessionTopics.size === 0 ? undefined : this.#sessionTopics.get(topic);
    if (n === 0 && sessions === undefined) return;
    this.metrics.publications.inc();
    if (n > 0) this.#deliverToWebSockets(topic, n, pub);
    if (sessions !== undefined) {
      let sent = 0;
      const encoded = encodeFrame(pub.frame);
      for (const s of sessions) {
        if (s.getUserData().socketId === pub.exceptSocketId) continue;
        s.sendEncoded(encoded);
        sent++;
      }
      this.metrics.messagesOut.inc(sent);
    }
  }

  #deliverToWebSockets(topic: string, n: number, pub: Publication): void {
    if (pub.exceptSocketId !== undefined) {
      const sender = this.sockets.get(pub.exceptSocketId);
      if (sender !== undefined && sender.getUserData().transport === 'ws' && sender.isSubscribed(topic)) {
        // WebSocket.publish reaches every subscriber of the topic except the publishing socket.
        (sender as WebSocket<SocketData>).publish(topic, pub.frame);
        this.metrics.messagesOut.inc(n - 1);
        return;
      }
    }
    this.uws.publish(topic, pub.frame);
    this.metrics.messagesOut.inc(n);
  }

  control(cmd: ControlCommand): void {
    switch (cmd.kind) {
      case 'terminate-user': {
        const set = this.#users.get(key(cmd.appId, cmd.userId));
        for (const ws of [...(set ?? [])]) {
          closeWithError(ws.getUserData(), pusherError('Unauthorized', 'You got disconnected by the app.'), this.metrics);
        }
        return;
      }
      case 'user-presence': {
        const k = key(cmd.appId, cmd.userId);
        const set = this.#watchers.get(k);
        if (set === undefined) return;
        // Published by whichever node decided it: a sign-out and the next sign-in elsewhere can
        // arrive the other way round. The older one is dropped; watchers keep the newer state.
        // The version is checked at run time: control messages come from other processes, and one
        // without a version is applied as it comes.
        if (typeof cmd.version === 'number') {
          const last = this.#presenceVersion.get(k);
          if (last !== undefined && cmd.version < last) return;
          this.#presenceVersion.set(k, cmd.version);
        }
        const frame = encodeWatchlistEvents([{ name: cmd.online ? 'online' : 'offline', user_ids: [cmd.userId] }]);
        for (const ws of set) sendFrame(ws.getUserData(), frame, this.metrics);
        return;
      }
    }
  }

  #put(map: Map<string, Set<ClientSocket>>, k: string, ws: ClientSocket) {
    let set = map.get(k);
    if (set === undefined) map.set(k, (set = new Set()));
    set.add(ws);
  }

  #drop(map: Map<string, Set<ClientSocket>>, k: string, ws: ClientSocket) {
    const set = map.get(k);
    if (set === undefined) return;
    set.delete(ws);
    if (set.size === 0) map.delete(k);
  }
}

/** Sends one frame if the socket is still open; counts drops over the backpressure limit. */
export function sendFrame(data: SocketData, frame: string | Uint8Array, metrics: Metrics): void {
  const ws = data.ws;
  if (data.status !== 'open' || ws === undefined) return;
  const r = ws.send(frame);
  metrics.messagesOut.inc();
  if (r === 2) metrics.backpressureDrops.inc();
}

/** Sends `pusher:error` and, when the error says so, closes with the same code. */
export function sendError(data: SocketData, err: PusherError, metrics: Metrics): void {
  metrics.errors.inc({ code: String(err.code) });
  if (err.closeConnection && err.code !== null) {
    closeWithError(data, err, metrics);
    return;
  }
  if (data.status !== 'open' || data.ws === undefined) return;
  sendFrame(data, encodeError(err), metrics);
  recordError(data, err);
}

/** Sends `pusher:error` then closes with the same code, in one corked write. */
export function closeWithError(data: SocketData, err: PusherError, metrics: Metrics): void {
  const ws = data.ws;
  if (data.status !== 'open' || ws === undefined) return;
  ws.cork(() => {
    ws.send(encodeError(err));
    data.status = 'closing';
    ws.end(err.code as Code, closeReason(err.message));
  });
  metrics.messagesOut.inc();
  recordError(data, err);
}

function recordError(data: SocketData, err: PusherError): void {
  const appId = data.app.id;
  if (!data.debug.watching(appId)) return;
  data.debug.emit(appId, { kind: 'error_sent', socketId: data.socketId, code: err.code, message: shownReason(err.message) });
}

/** A close reason: at most 123 bytes of UTF-8 (RFC 6455 §5.5), never cut inside a character. */
function closeReason(message: string): string {
  let out = '';
  let bytes = 0;
  for (const ch of message) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > 123) break;
    out += ch;
    bytes += n;
  }
  return out;
}
