/**
 * The one table of Pusher protocol error codes. Close ranges (spec/protocol.md §7):
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

export const appNotFound = (key: string) =>
  new PusherError(PusherErrorCode.AppNotFound, `App key ${key} not in this cluster`);
export const appDisabled = () => new PusherError(PusherErrorCode.AppDisabled, 'Application disabled');
export const overConnectionQuota = () =>
  new PusherError(PusherErrorCode.OverConnectionQuota, 'Application is over connection quota');
export const pathNotFound = () => new PusherError(PusherErrorCode.PathNotFound, 'Path not found');
export const unsupportedProtocol = (v: string) =>
  new PusherError(PusherErrorCode.UnsupportedProtocol, `Unsupported protocol version: ${v}`);
export const invalidJson = () => new PusherError(null, 'Received invalid JSON');
export const reconnectNow = (why = 'Server is shutting down, please reconnect') =>
  new PusherError(PusherErrorCode.ReconnectNow, why);
export const pongTimeout = () => new PusherError(PusherErrorCode.PongTimeout, 'Pong reply not received');
export const overCapacity = () => new PusherError(PusherErrorCode.OverCapacity, 'Over capacity');
export const clientEventRateLimited = () =>
  new PusherError(PusherErrorCode.ClientEventRateLimited, 'Client event rejected due to rate limit', false);

/** Boundary only: anything thrown becomes sendable; the original is kept as `cause` for the log. */
export const toPusherError = (err: unknown): PusherError =>
  err instanceof PusherError
    ? err
    : new PusherError(PusherErrorCode.ReconnectNow, 'Internal error', true, { cause: err });
