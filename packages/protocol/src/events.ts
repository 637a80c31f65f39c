/** Event names on the wire, in one place (no loose strings in handlers). */
export const PusherEvent = {
  ConnectionEstablished: 'pusher:connection_established',
  Error: 'pusher:error',
  Ping: 'pusher:ping',
  Pong: 'pusher:pong',
  Subscribe: 'pusher:subscribe',
  Unsubscribe: 'pusher:unsubscribe',
  Signin: 'pusher:signin',
  SigninSuccess: 'pusher:signin_success',
  SubscriptionError: 'pusher:subscription_error',
  CacheMiss: 'pusher:cache_miss',
  SubscriptionSucceeded: 'pusher_internal:subscription_succeeded',
  MemberAdded: 'pusher_internal:member_added',
  MemberRemoved: 'pusher_internal:member_removed',
  SubscriptionCount: 'pusher_internal:subscription_count',
  WatchlistEvents: 'pusher_internal:watchlist_events',
} as const;
export type PusherEvent = (typeof PusherEvent)[keyof typeof PusherEvent];

export const CLIENT_EVENT_PREFIX = 'client-';
export const PUSHER_PREFIX = 'pusher:';
export const PUSHER_INTERNAL_PREFIX = 'pusher_internal:';
