import { PositionTracker, RECOVERED_EVENT, RECOVERY_FAILED_EVENT } from './recovery.js';

/**
 * Message recovery for an unmodified pusher-js (8.x) client, and so for Laravel Echo's pusher
 * connector (`echo.connector.pusher`):
 *
 *     const stop = enableRecovery(pusher);
 *     pusher.subscribe('orders').bind('pusher:recovery_failed', ({ reason }) => refetch());
 *
 * It remembers the last position received on each subscribed channel, adds it to the
 * `pusher:subscribe` pusher-js sends again after a reconnect, drops stale duplicates before
 * pusher-js sees them, and emits `pusher:recovered` / `pusher:recovery_failed` on the channel
 * right after its `pusher:subscription_succeeded`. Nothing changes on channels without positions.
 */

export { RECOVERED_EVENT, RECOVERY_FAILED_EVENT };
export type { RecoveredEvent, RecoveryFailedEvent, RecoveryFailureReason } from './recovery.js';

/** A pusher-js channel, as far as the plugin uses it. */
interface PusherChannelLike {
  emit(event: string, data?: unknown): unknown;
}

/** What the plugin uses of a pusher-js client; a `Pusher` instance (8.x) is one. */
export interface PusherLike {
  connection: {
    bind(event: string, callback: () => void): unknown;
    unbind(event: string, callback: () => void): unknown;
  };
  channel(name: string): PusherChannelLike | undefined;
  /** Wrapped by the plugin (pusher-js's channels send their `pusher:subscribe` through it). */
  send_event: (event: string, data: unknown, channel?: string) => boolean;
}

/**
 * pusher-js internals reached for the raw frames (its parsed events drop unknown fields such as
 * `position`): `pusher.connection.connection.transport`, whose `emit('message', {data})` carries
 * each frame's text before pusher-js decodes it.
 */
interface TransportLike {
  emit: (event: string, ...args: unknown[]) => unknown;
}

type Emit = TransportLike['emit'];

const SUBSCRIBE = 'pusher:subscribe';
const SUBSCRIPTION_SUCCEEDED = 'pusher_internal:subscription_succeeded';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

const enabled = new WeakMap<object, () => void>();

/**
 * Enables recovery on a pusher-js client; returns the function that disables it again. Calling
 * it twice on one client returns the first call's disposer.
 */
export function enableRecovery(pusher: PusherLike): () => void {
  const existing = enabled.get(pusher);
  if (existing) return existing;

  // One tracker per channel object: pusher-js makes a new one after an unsubscribe, so a later
  // subscribe to the same name starts without a position.
  const trackers = new WeakMap<object, PositionTracker>();
  const trackerOf = (channel: object) => {
    let t = trackers.get(channel);
    if (!t) trackers.set(channel, (t = new PositionTracker()));
    return t;
  };
  let disposed = false;

  /** One raw frame: forwarded to pusher-js, or not when it is a stale duplicate. */
  const receive = (message: unknown, forward: () => unknown): unknown => {
    const text = isObject(message) ? message.data : undefined;
    if (disposed || typeof text !== 'string') return forward();
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return forward(); // pusher-js reports it
    }
    if (!isObject(frame) || typeof frame.channel !== 'string' || typeof frame.event !== 'string') return forward();
    const name = frame.channel;
    const channel = pusher.channel(name);
    if (!channel) return forward();
    if (frame.event === SUBSCRIPTION_SUCCEEDED) {
      const outcome = trackerOf(channel).succeeded(frame.position, frame.recovery);
      const result = forward();
      // Not when pusher-js dropped the channel meanwhile (an unsubscribe while pending).
      if (outcome && pusher.channel(name) === channel) channel.emit(outcome.event, outcome.data);
      return result;
    }
    if (frame.position !== undefined && !trackerOf(channel).accept(frame.position)) return undefined;
    return forward();
  };

  let hooked: { transport: TransportLike; wrapper: Emit; original: Emit; hadOwn: boolean } | undefined;
  /** Wraps the current transport's `emit` (each connection has a new transport). */
  const hook = () => {
    const transport = (pusher.connection as { connection?: { transport?: unknown } | null }).connection?.transport as TransportLike | undefined;
    if (!transport || typeof transport.emit !== 'function' || hooked?.transport === transport) return;
    const original = transport.emit;
    const hadOwn = Object.prototype.hasOwnProperty.call(transport, 'emit');
    const wrapper: Emit = function (this: unknown, event, ...args) {
      const forward = () => original.call(this, event, ...args);
      return event === 'message' ? receive(args[0], forward) : forward();
    };
    transport.emit = wrapper;
    hooked = { transport, wrapper, original, hadOwn };
  };

  // pusher-js's channels send their `pusher:subscribe` (again after every reconnect) through it.
  const previousSend = pusher.send_event;
  const hadOwnSend = Object.prototype.hasOwnProperty.call(pusher, 'send_event');
  const send: PusherLike['send_event'] = function (this: unknown, event, data, channelName) {
    if (!disposed && event === SUBSCRIBE && isObject(data) && typeof data.channel === 'string') {
      hook(); // normally done on 'connected' already; this covers a listener before ours that threw
      const channel = pusher.channel(data.channel);
      const position = channel ? trackers.get(channel)?.positionForSubscribe() : undefined;
      if (position !== undefined) data = { ...data, position };
    }
    return previousSend.call(pusher, event, data, channelName);
  };
  pusher.send_event = send;

  pusher.connection.bind('connected', hook);
  hook(); // already connected

  const dispose = () => {
    if (disposed) return;
    disposed = true;
    enabled.delete(pusher);
    pusher.connection.unbind('connected', hook);
    // Undo the wrappers unless something wrapped them again since; they pass through meanwhile.
    if (pusher.send_event === send) restore(pusher, 'send_event', previousSend, hadOwnSend);
    if (hooked && hooked.transport.emit === hooked.wrapper) restore(hooked.transport, 'emit', hooked.original, hooked.hadOwn);
    hooked = undefined;
  };
  enabled.set(pusher, dispose);
  return dispose;
}

function restore<T extends object, K extends keyof T>(target: T, key: K, previous: T[K], hadOwn: boolean): void {
  if (hadOwn) target[key] = previous;
  else delete target[key];
}
