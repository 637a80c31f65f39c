/** What the client does after its socket closed. */
export const ReconnectAction = {
  /** Stay disconnected until the app calls `connect()` (4000-4099, and 4300+ like pusher-js). */
  Never: 'never',
  /** Retry after an exponential, fully jittered delay (ordinary network failures, 1000-3999). */
  Backoff: 'backoff',
  /** Over capacity (4100-4199): back off, and never sooner than `minDelayMs`. */
  SlowBackoff: 'slow-backoff',
  /** The server asked for an immediate reconnect (4200-4299): retry after a small jitter only. */
  Now: 'now',
} as const;
export type ReconnectAction = (typeof ReconnectAction)[keyof typeof ReconnectAction];

/**
 * The Pusher close-code ranges (docs/reference/protocol.md#error-and-close-codes, the table in @herald/protocol errors.ts):
 * 4000-4099 don't reconnect unchanged, 4100-4199 back off, 4200-4299 reconnect now. Codes of 4300
 * and above are never sent as close codes by Herald; pusher-js treats them as "refused".
 */
export function reconnectActionFor(code: number | undefined): ReconnectAction {
  if (code === undefined) return ReconnectAction.Backoff;
  if (code >= 4000 && code <= 4099) return ReconnectAction.Never;
  if (code >= 4100 && code <= 4199) return ReconnectAction.SlowBackoff;
  if (code >= 4200 && code <= 4299) return ReconnectAction.Now;
  if (code >= 4300 && code <= 4999) return ReconnectAction.Never;
  return ReconnectAction.Backoff;
}
