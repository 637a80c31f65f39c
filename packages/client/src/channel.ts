import { CLIENT_EVENT_PREFIX, PUSHER_INTERNAL_PREFIX, PUSHER_PREFIX, PusherEvent, channelKind, type ChannelKind } from '@herald/protocol';
import { AuthRequestError, type ChannelAuthData } from './auth.js';
import { Emitter } from './emitter.js';
import { decryptEventData, parseSharedSecret } from './encryption.js';
import { parseEventData, type EventMetadata, type IncomingFrame, type OutgoingFrame, type PushErrorEvent } from './frames.js';
import { Members } from './members.js';
import { PositionTracker } from './recovery.js';

/** What a channel needs from its client (and nothing more). */
export interface ChannelHost {
  /** False when the connection is not established; the frame is then dropped. */
  send(frame: OutgoingFrame): boolean;
  /** The current socket id, or undefined while not connected. */
  socketId(): string | undefined;
  authorize(channelName: string, socketId: string): Promise<ChannelAuthData>;
  /** The signed-in user's id, for presence channels joined without channel_data. */
  signedInUserId(): string | undefined;
  reportError(e: PushErrorEvent): void;
  unsubscribe(channelName: string): void;
}

/** Client events waiting for the subscription; older ones are dropped beyond this. */
const MAX_QUEUED_CLIENT_EVENTS = 100;

/**
 * A channel, as push.js's: `on/off/emit/trigger`, `subscribed`, `channelName`, with pusher-js's
 * `bind/unbind` aliases. Events: the app's own, plus `pusher:subscription_succeeded`,
 * `pusher:subscription_error`, `pusher:subscription_count`, `pusher:cache_miss`, and on channels
 * with history `pusher:recovered` / `pusher:recovery_failed` after a resubscribe.
 */
export class Channel extends Emitter {
  readonly channelName: string;
  /** True between `pusher_internal:subscription_succeeded` and the next disconnect. */
  subscribed = false;
  /** A subscribe (or its auth request) is in flight. */
  subscriptionPending = false;
  /** Set when the server reports subscription counts (`pusher_internal:subscription_count`). */
  subscriptionCount: number | undefined = undefined;
  /** Client events triggered before the subscription succeeded, sent once it does. */
  readonly queue: OutgoingFrame[] = [];
  private readonly kind: ChannelKind;
  /** Bumped on every subscribe and disconnect, so late auth answers for an old attempt are dropped. */
  private attempt = 0;
  /** The last position received (channels with history), sent with every resubscribe. */
  private readonly tracker = new PositionTracker();

  constructor(
    name: string,
    protected readonly host: ChannelHost,
  ) {
    super();
    this.channelName = name;
    this.kind = channelKind(name);
  }

  /** pusher-js's name for `channelName`. */
  get name(): string {
    return this.channelName;
  }

  /**
   * The last position received on this channel, `"<epoch>:<offset>"`: undefined until the
   * server sends one (only channels with history have positions). Resubscribes carry it.
   */
  get position(): string | undefined {
    return this.tracker.position;
  }

  /**
   * Sends a client event (`client-*`) to the other subscribers. Throws unless the name starts
   * with `client-` (as push.js does). Before the subscription succeeds the event is queued, then
   * flushed in order. Returns true when it was sent at once.
   */
  trigger(event: string, data?: unknown): boolean {
    if (typeof event !== 'string' || !event.startsWith(CLIENT_EVENT_PREFIX)) {
      throw new Error(`Event '${String(event)}' should start with '${CLIENT_EVENT_PREFIX}'`);
    }
    const frame: OutgoingFrame = { event, channel: this.channelName, data };
    if (this.subscribed && this.queue.length === 0 && this.host.send(frame)) return true;
    this.queue.push(frame);
    if (this.queue.length > MAX_QUEUED_CLIENT_EVENTS) {
      const dropped = this.queue.shift()!;
      this.host.reportError({
        type: 'QueueOverflow',
        channel: this.channelName,
        message: `More than ${MAX_QUEUED_CLIENT_EVENTS} client events queued on ${this.channelName}: dropped ${dropped.event}`,
      });
    }
    return false;
  }

  /** Leaves the channel (same as `push.unsubscribe(channel.channelName)`). */
  unsubscribe(): void {
    this.host.unsubscribe(this.channelName);
  }

  /** @internal Called once the connection is established (and again after every reconnect). */
  subscribe(): void {
    const socketId = this.host.socketId();
    if (socketId === undefined) return;
    const attempt = ++this.attempt;
    this.subscribed = false;
    this.subscriptionPending = true;
    if (!this.kind.authorized) {
      this.sendSubscribe({ auth: '', channel: this.channelName });
      return;
    }
    const current = () => attempt === this.attempt && this.host.socketId() === socketId;
    Promise.resolve()
      .then(() => this.host.authorize(this.channelName, socketId))
      .then((auth) => {
        if (!current()) return;
        this.onAuthorized(auth);
        const data: Record<string, string> = { auth: auth.auth, channel: this.channelName };
        if (typeof auth.channel_data === 'string') data.channel_data = auth.channel_data;
        this.sendSubscribe(data);
      })
      .catch((err: unknown) => {
        if (!current()) return;
        this.subscriptionPending = false;
        const status = err instanceof AuthRequestError ? err.status : 0;
        const message = err instanceof Error ? err.message : String(err);
        this.emit('pusher:subscription_error', { type: 'AuthError', error: message, status });
        this.host.reportError({ type: 'AuthError', channel: this.channelName, message, status, error: err });
      });
  }

  /** @internal The connection dropped or the app unsubscribed: the server forgot this subscription. */
  reset(): void {
    this.attempt++;
    this.subscribed = false;
    this.subscriptionPending = false;
  }

  /** @internal A frame whose `channel` is this one. */
  handleFrame(frame: IncomingFrame): void {
    const { event, data } = frame;
    switch (event) {
      case PusherEvent.SubscriptionSucceeded: {
        this.subscribed = true;
        this.subscriptionPending = false;
        const outcome = this.tracker.succeeded(frame.position, frame.recovery);
        this.emit('pusher:subscription_succeeded', this.onSubscriptionSucceeded(parseEventData(data)));
        if (outcome) this.emit(outcome.event, outcome.data);
        this.flushQueue();
        return;
      }
      case PusherEvent.SubscriptionError:
        this.subscriptionPending = false;
        this.emit(event, parseEventData(data));
        return;
      case PusherEvent.SubscriptionCount: {
        const parsed = parseEventData(data) as { subscription_count?: unknown } | undefined;
        if (typeof parsed?.subscription_count === 'number') this.subscriptionCount = parsed.subscription_count;
        this.emit('pusher:subscription_count', parsed);
        return;
      }
      default:
        // A stale duplicate (offset not past the last one of the same epoch) is dropped.
        if (!this.tracker.accept(frame.position)) return;
        if (event.startsWith(PUSHER_INTERNAL_PREFIX)) return this.handleInternal(event, parseEventData(data));
        this.deliver(event, data, frame.user_id === undefined ? {} : { user_id: frame.user_id });
    }
  }

  /** Auth answered: subclasses take what they need from it (throwing fails the subscription). */
  protected onAuthorized(_auth: ChannelAuthData): void {}

  /** The value passed to `pusher:subscription_succeeded` listeners. */
  protected onSubscriptionSucceeded(data: unknown): unknown {
    return data;
  }

  /** `pusher_internal:*` frames other than subscription ones (pusher-js swallows unknown ones too). */
  protected handleInternal(_event: string, _data: unknown): void {}

  /** An app event (or `pusher:cache_miss` and the like): parsed data to the listeners. */
  protected deliver(event: string, data: unknown, meta: EventMetadata): void {
    this.emit(event, parseEventData(data), meta);
  }

  /** `pusher:subscribe`, with the last position received when there is one (a resubscribe). */
  private sendSubscribe(data: Record<string, string>): void {
    const position = this.tracker.positionForSubscribe();
    if (position !== undefined) data.position = position;
    this.host.send({ event: PusherEvent.Subscribe, data });
  }

  private flushQueue(): void {
    while (this.queue.length > 0 && this.subscribed) {
      if (!this.host.send(this.queue[0]!)) return;
      this.queue.shift();
    }
  }
}

/** A `presence-` channel: `members`, and `pusher:member_added` / `pusher:member_removed` events. */
export class PresenceChannel extends Channel {
  readonly members = new Members();

  protected override onAuthorized(auth: ChannelAuthData): void {
    let id: string | undefined;
    if (typeof auth.channel_data === 'string') {
      const cd = parseEventData(auth.channel_data) as { user_id?: unknown } | undefined;
      if (typeof cd?.user_id === 'string' || typeof cd?.user_id === 'number') id = String(cd.user_id);
    }
    this.members.setMyID(id ?? this.host.signedInUserId());
  }

  protected override onSubscriptionSucceeded(data: unknown): unknown {
    this.members.onSubscriptionSucceeded((data as { presence?: unknown } | undefined)?.presence);
    return this.members;
  }

  protected override handleInternal(event: string, data: unknown): void {
    if (event === PusherEvent.MemberAdded) {
      const m = this.members.add(data);
      if (m) this.emit('pusher:member_added', m);
    } else if (event === PusherEvent.MemberRemoved) {
      const id = (data as { user_id?: unknown } | undefined)?.user_id;
      // Some servers (webman/push) also tell the leaver about its own departure.
      if ((typeof id === 'string' || typeof id === 'number') && String(id) === this.members.myID) return;
      const m = this.members.remove(data);
      if (m) this.emit('pusher:member_removed', m);
    }
  }

  override reset(): void {
    super.reset();
    this.members.reset();
  }
}

/**
 * A `private-encrypted-` channel: events are opened with the auth response's `shared_secret`.
 * When one does not decrypt, the channel asks the auth endpoint once for a fresh key (it may have
 * been rotated) and retries; an event that still fails is dropped and reported as an `error`.
 */
export class EncryptedChannel extends Channel {
  private key: Uint8Array | undefined;
  /** Events that arrived while a fresh key was being fetched, in order. */
  private waiting: Array<[string, unknown, EventMetadata]> | undefined;

  override trigger(event: string, _data?: unknown): boolean {
    throw new Error(`Client events are not supported on encrypted channels (${this.channelName}, ${event})`);
  }

  protected override onAuthorized(auth: ChannelAuthData): void {
    const key = parseSharedSecret(auth.shared_secret);
    if (!key) throw new AuthRequestError(`No valid shared_secret in the auth response for ${this.channelName}`, 200);
    this.key = key;
  }

  protected override deliver(event: string, data: unknown, meta: EventMetadata): void {
    if (event.startsWith(PUSHER_PREFIX)) return super.deliver(event, data, meta);
    if (this.waiting) {
      this.waiting.push([event, data, meta]);
      return;
    }
    const r = this.key ? decryptEventData(data, this.key) : ({ ok: false, reason: 'key' } as const);
    if (r.ok) return void this.emit(event, r.value, meta);
    if (r.reason === 'malformed') return this.dropUndecryptable(event, 'payload is not {nonce, ciphertext}');
    const batch: Array<[string, unknown, EventMetadata]> = [[event, data, meta]];
    this.waiting = batch;
    const socketId = this.host.socketId();
    void Promise.resolve()
      .then(() => (socketId === undefined ? undefined : this.host.authorize(this.channelName, socketId)))
      .then((auth) => {
        const key = parseSharedSecret(auth?.shared_secret);
        if (key) this.key = key;
      })
      .catch(() => {
        /* the retry below fails with the old key and reports the event as undecryptable */
      })
      .then(() => {
        if (this.waiting !== batch) return; // reset (disconnect or unsubscribe) meanwhile
        this.waiting = undefined;
        for (const [e, d, m] of batch) {
          const again = this.key ? decryptEventData(d, this.key) : ({ ok: false, reason: 'key' } as const);
          if (again.ok) this.emit(e, again.value, m);
          else this.dropUndecryptable(e, 'cannot decrypt, even with a fresh key');
        }
      });
  }

  override reset(): void {
    super.reset();
    this.waiting = undefined;
  }

  private dropUndecryptable(event: string, why: string): void {
    this.host.reportError({ type: 'DecryptionError', channel: this.channelName, message: `Dropped event ${event} on ${this.channelName}: ${why}` });
  }
}

export function createChannel(name: string, host: ChannelHost): Channel {
  const kind = channelKind(name);
  if (kind.presence) return new PresenceChannel(name, host);
  if (kind.encrypted) return new EncryptedChannel(name, host);
  return new Channel(name, host);
}
