import { MAX_WATCHLIST } from './presence.js';

/**
 * The one table of Pusher protocol error codes. Close ranges (docs/reference/protocol.md#error-and-close-codes):
 * 4000-4099 the client must not reconnect unchanged, 4100-4199 reconnect after a back-off,
 * 4200-4299 reconnect now, 4300+ are sent only as `pusher:error` frames and never as close codes
 * (pusher-js treats a close code >= 4300 as "refused" and never reconnects).
 */
export const PusherErrorCode = {
  TlsOnly: 4000,
  AppNotFound: 4001,
  AppDisabled: 4003,
  OverConnectionQuota: 4004,
  PathNotFound: 4005,
  InvalidVersionFormat: 4006,
  UnsupportedProtocol: 4007,
  NoProtocolVersion: 4008,
  Unauthorized: 4009,
  OverCapacity: 4100,
  ReconnectNow: 4200,
  PongTimeout: 4201,
  ClosedAfterInactivity: 4202,
  ClientEventRateLimited: 4301,
  WatchlistTooLong: 4302,
} as const;
export type PusherErrorCode = (typeof PusherErrorCode)[keyof typeof PusherErrorCode];

/**
 * An error that is sent to the client as `pusher:error`. `code` is null for the soft errors Pusher
 * reports without a code (bad JSON, rejected client events, failed subscriptions).
 * `closeConnection` decides whether the socket is closed with the same code after the frame.
 */
export class PusherError extends Error {
  override readonly name = 'PusherError';
  readonly closeConnection: boolean;
  constructor(
    readonly code: PusherErrorCode | null,
    message: string,
    closeConnection?: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.closeConnection = closeConnection ?? (code !== null && code < 4300);
  }
}

/** Why a subscription failed; `type` and `status` follow soketi's `pusher:subscription_error` shape. */
export const SubscriptionErrorType = {
  AuthError: 'AuthError',
  LimitReached: 'LimitReached',
  InvalidChannel: 'InvalidChannel',
} as const;
export type SubscriptionErrorType = (typeof SubscriptionErrorType)[keyof typeof SubscriptionErrorType];

/** A failed subscription: reported on the channel, never closes the socket. */
export class SubscriptionError extends Error {
  override readonly name = 'SubscriptionError';
  constructor(
    readonly channel: string,
    readonly type: SubscriptionErrorType,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** What a registry entry declares together: the code, whether the socket is closed after the frame, the message. */
interface PusherErrorSpec {
  readonly code: PusherErrorCode | null;
  readonly closes: boolean;
  readonly message: (...args: never[]) => string;
}

/**
 * Every `pusher:error` the server sends, declared once; errors are made only through
 * `pusherError`. One code may have several entries when its uses differ in whether the socket is
 * closed (4009: a failed sign-in keeps the socket, a terminated user loses it). docs/errors.md
 * lists each entry with its code and close behaviour, and test/docs/errors-registry.test.ts
 * compares the two entry by entry. Entries marked reserved are never sent today.
 */
export const PUSHER_ERRORS = {
  /** Reserved: Herald serves TLS-only apps through the proxy in front of it. */
  TlsOnly: { code: PusherErrorCode.TlsOnly, closes: true, message: () => 'Only TLS connections are accepted' },
  AppNotFound: { code: PusherErrorCode.AppNotFound, closes: true, message: (key: string) => `App key ${key} not in this cluster` },
  AppDisabled: { code: PusherErrorCode.AppDisabled, closes: true, message: () => 'Application disabled' },
  OverConnectionQuota: { code: PusherErrorCode.OverConnectionQuota, closes: true, message: () => 'Application is over connection quota' },
  PathNotFound: { code: PusherErrorCode.PathNotFound, closes: true, message: () => 'Path not found' },
  /** Reserved: a malformed `protocol` is refused as UnsupportedProtocol. */
  InvalidVersionFormat: { code: PusherErrorCode.InvalidVersionFormat, closes: true, message: () => 'Invalid version string format' },
  UnsupportedProtocol: { code: PusherErrorCode.UnsupportedProtocol, closes: true, message: (v: string) => `Unsupported protocol version: ${v}` },
  /** Reserved: a missing `protocol` is taken as 7. */
  NoProtocolVersion: { code: PusherErrorCode.NoProtocolVersion, closes: true, message: () => 'No protocol version supplied' },
  /** `terminate_connections`, or an Origin outside the app's `allowedOrigins`. */
  Unauthorized: { code: PusherErrorCode.Unauthorized, closes: true, message: (why: string) => why },
  /** A `pusher:signin` that failed: the socket stays open, unsigned. */
  SigninFailed: { code: PusherErrorCode.Unauthorized, closes: false, message: (why: string) => why },
  OverCapacity: { code: PusherErrorCode.OverCapacity, closes: true, message: () => 'Over capacity' },
  SlowConsumer: { code: PusherErrorCode.OverCapacity, closes: true, message: () => 'Slow consumer: too much data buffered, reconnect later' },
  ReconnectNow: { code: PusherErrorCode.ReconnectNow, closes: true, message: (why = 'Server is shutting down, please reconnect') => why },
  /** A bug: the client reconnects at once, and the original error is the `cause`, for the log. */
  Internal: { code: PusherErrorCode.ReconnectNow, closes: true, message: () => 'Internal error' },
  PongTimeout: { code: PusherErrorCode.PongTimeout, closes: true, message: () => 'Pong reply not received' },
  /** Reserved: idle sockets are closed by PongTimeout. */
  ClosedAfterInactivity: { code: PusherErrorCode.ClosedAfterInactivity, closes: true, message: () => 'Closed after inactivity' },
  ClientEventRateLimited: { code: PusherErrorCode.ClientEventRateLimited, closes: false, message: () => 'Client event rejected due to rate limit' },
  /** More frames of one socket waiting to be handled than the queue holds. */
  TooManyQueuedFrames: {
    code: PusherErrorCode.ClientEventRateLimited,
    closes: true,
    message: (max: number) => `Too many frames waiting (max ${max}): slow down`,
  },
  WatchlistTooLong: {
    code: PusherErrorCode.WatchlistTooLong,
    closes: false,
    message: () => `Watchlist is limited to ${MAX_WATCHLIST} user ids; only the first ${MAX_WATCHLIST} are watched`,
  },
  InvalidJson: { code: null, closes: false, message: () => 'Received invalid JSON' },
  InternalEventForbidden: { code: null, closes: false, message: (prefix: string) => `Clients may not send ${prefix} events` },
  NotAClientEvent: {
    code: null,
    closes: false,
    message: (event: string) => `Event ${JSON.stringify(event.slice(0, 64))} rejected: client events must start with client-`,
  },
  ClientEventsDisabled: {
    code: null,
    closes: false,
    message: () => 'To send client events, you must enable this feature in the Settings page of your dashboard.',
  },
  ClientEventRejected: { code: null, closes: false, message: (why: string) => `Client event rejected - ${why}` },
  /** Sent beside the channel-scoped `pusher:subscription_error` (encode.ts). */
  SubscriptionFailed: { code: null, closes: false, message: (why: string) => why },
} as const satisfies Record<string, PusherErrorSpec>;

export type PusherErrorName = keyof typeof PUSHER_ERRORS;

/** The registry entry `name`, its message filled in with `args`. */
export function pusherError<N extends PusherErrorName>(name: N, ...args: Parameters<(typeof PUSHER_ERRORS)[N]['message']>): PusherError {
  const spec: PusherErrorSpec = PUSHER_ERRORS[name];
  return new PusherError(spec.code, (spec.message as (...a: unknown[]) => string)(...args), spec.closes);
}

export const appNotFound = (key: string) => pusherError('AppNotFound', key);
export const appDisabled = () => pusherError('AppDisabled');
export const overConnectionQuota = () => pusherError('OverConnectionQuota');
export const pathNotFound = () => pusherError('PathNotFound');
export const unsupportedProtocol = (v: string) => pusherError('UnsupportedProtocol', v);
export const invalidJson = () => pusherError('InvalidJson');
export const reconnectNow = (why?: string) => pusherError('ReconnectNow', why);
export const pongTimeout = () => pusherError('PongTimeout');
export const overCapacity = () => pusherError('OverCapacity');
export const clientEventRateLimited = () => pusherError('ClientEventRateLimited');

/** Boundary only: anything thrown becomes sendable; the original is kept as `cause` for the log. */
export const toPusherError = (err: unknown): PusherError => {
  if (err instanceof PusherError) return err;
  const spec = PUSHER_ERRORS.Internal;
  return new PusherError(spec.code, spec.message(), spec.closes, { cause: err });
};
