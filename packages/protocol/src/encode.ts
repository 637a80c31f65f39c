import { pusherError, type PusherError, type SubscriptionError } from './errors.js';
import { PusherEvent } from './events.js';
import type { RecoveryFields } from './history.js';

/**
 * Server → client frames. `data` is a JSON string in every frame except `pusher:error` (and the
 * object-shaped `pusher:subscription_error` / `pusher:signin_success`): docs/reference/protocol.md#frames.
 */
export const encodeConnectionEstablished = (socketId: string, activityTimeout: number) =>
  JSON.stringify({
    event: PusherEvent.ConnectionEstablished,
    data: JSON.stringify({ socket_id: socketId, activity_timeout: activityTimeout }),
  });

export const encodeError = (err: Pick<PusherError, 'code' | 'message'>) =>
  JSON.stringify({ event: PusherEvent.Error, data: { code: err.code, message: err.message } });

export const PONG_FRAME = JSON.stringify({ event: PusherEvent.Pong, data: '{}' });
export const PING_FRAME = JSON.stringify({ event: PusherEvent.Ping, data: '{}' });

/** A channel event; `data` must already be a string and is delivered byte for byte. */
export function encodeChannelEvent(event: string, channel: string, data: string, userId?: string): string {
  return userId === undefined ? JSON.stringify({ event, channel, data }) : JSON.stringify({ event, channel, data, user_id: userId });
}

/** Client-event and webhook data must be a string: objects are serialised once, strings kept. */
export const dataToString = (data: unknown): string => (typeof data === 'string' ? data : JSON.stringify(data === undefined ? null : data));

/** `extra`: the recovery fields of a history channel (history.ts), top-level after `data`. */
export const encodeSubscriptionSucceeded = (channel: string, extra?: RecoveryFields) =>
  JSON.stringify(
    extra === undefined
      ? { event: PusherEvent.SubscriptionSucceeded, channel, data: '{}' }
      : { event: PusherEvent.SubscriptionSucceeded, channel, data: '{}', ...extra },
  );

export interface PresenceMemberWire {
  userId: string;
  userInfo: unknown;
}

/**
 * `partial`: the list holds only the members this node knows (the cluster state was unreachable);
 * the complete list follows in another subscription_succeeded once it is back. Clients that do
 * not know the flag ignore it (it sits beside `ids`, `hash` and `count`).
 */
export function encodePresenceSucceeded(
  channel: string,
  members: readonly PresenceMemberWire[],
  opts: { partial?: boolean; extra?: RecoveryFields | undefined } = {},
): string {
  // Null prototype: a user id such as `__proto__` must become an own key, not hit Object.prototype's setter.
  const hash: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  const ids: string[] = [];
  for (const m of members) {
    if (Object.prototype.hasOwnProperty.call(hash, m.userId)) continue;
    ids.push(m.userId);
    hash[m.userId] = m.userInfo ?? null;
  }
  return JSON.stringify({
    event: PusherEvent.SubscriptionSucceeded,
    channel,
    data: JSON.stringify({ presence: { ids, hash, count: ids.length, ...(opts.partial === true ? { partial: true } : {}) } }),
    ...opts.extra,
  });
}

export const encodeMemberAdded = (channel: string, userId: string, userInfo: unknown) =>
  JSON.stringify({
    event: PusherEvent.MemberAdded,
    channel,
    data: JSON.stringify(userInfo === undefined ? { user_id: userId } : { user_id: userId, user_info: userInfo }),
  });

export const encodeMemberRemoved = (channel: string, userId: string) =>
  JSON.stringify({ event: PusherEvent.MemberRemoved, channel, data: JSON.stringify({ user_id: userId }) });

export const encodeSubscriptionCount = (channel: string, count: number) =>
  JSON.stringify({
    event: PusherEvent.SubscriptionCount,
    channel,
    data: JSON.stringify({ subscription_count: count }),
  });

export const encodeCacheMiss = (channel: string) => JSON.stringify({ event: PusherEvent.CacheMiss, channel, data: '{}' });

export const encodeSigninSuccess = (userData: string) => JSON.stringify({ event: PusherEvent.SigninSuccess, data: { user_data: userData } });

export const encodeWatchlistEvents = (events: ReadonlyArray<{ name: 'online' | 'offline'; user_ids: string[] }>) =>
  JSON.stringify({ event: PusherEvent.WatchlistEvents, data: JSON.stringify({ events }) });

/**
 * A failed subscription is reported twice, once in each form clients understand, and never closes
 * the socket: soketi's channel-scoped `pusher:subscription_error` (so Laravel Echo's `.error()` and
 * pusher-js channel handlers fire) and Pusher's own `pusher:error` with code null.
 */
export function encodeSubscriptionFailure(err: SubscriptionError): string[] {
  return [
    JSON.stringify({
      event: PusherEvent.SubscriptionError,
      channel: err.channel,
      data: { type: err.type, error: err.message, status: err.status },
    }),
    encodeError(pusherError('SubscriptionFailed', err.message)),
  ];
}
