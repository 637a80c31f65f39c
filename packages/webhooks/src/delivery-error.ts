export const WebhookErrorCode = {
  /** The receiver answered with a non-2xx status. */
  HttpStatus: 'PUSH_ERR_WEBHOOK_STATUS',
  /** Connection refused, reset, DNS failure… */
  Network: 'PUSH_ERR_WEBHOOK_NETWORK',
  /** No answer within `retry.attemptTimeoutMs`. */
  Timeout: 'PUSH_ERR_WEBHOOK_TIMEOUT',
  /** The target URL does not parse or is not http(s); never retried. */
  InvalidUrl: 'PUSH_ERR_WEBHOOK_URL',
  /** Delivery was cut short by `close()` after its flush timeout. */
  Aborted: 'PUSH_ERR_WEBHOOK_ABORTED',
} as const;
export type WebhookErrorCode = (typeof WebhookErrorCode)[keyof typeof WebhookErrorCode];

/** Why a delivery attempt failed; the last one is handed to `onDeadLetter`. */
export class WebhookDeliveryError extends Error {
  override readonly name = 'WebhookDeliveryError';
  constructor(
    readonly code: WebhookErrorCode,
    message: string,
    /** HTTP status for `HttpStatus`. */
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Maps whatever `fetch` threw to a delivery error; `aborted` says our shutdown signal fired. */
export function toDeliveryError(err: unknown, aborted: boolean, timeoutMs: number): WebhookDeliveryError {
  if (err instanceof WebhookDeliveryError) return err;
  if (aborted) return new WebhookDeliveryError(WebhookErrorCode.Aborted, 'delivery aborted at close', undefined, { cause: err });
  if (err instanceof Error && err.name === 'TimeoutError') {
    return new WebhookDeliveryError(WebhookErrorCode.Timeout, `no response within ${timeoutMs} ms`, undefined, { cause: err });
  }
  const cause = err instanceof Error ? err.cause : undefined;
  const detail = cause instanceof Error ? ((cause as NodeJS.ErrnoException).code ?? cause.message) : err instanceof Error ? err.message : String(err);
  return new WebhookDeliveryError(WebhookErrorCode.Network, `request failed: ${detail}`, undefined, { cause: err });
}
