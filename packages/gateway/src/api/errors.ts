/** Every HTTP API error code, declared once; docs/errors.md documents each (a test checks). */
export const ApiErrorCode = {
  InvalidJson: 'PUSH_ERR_INVALID_JSON',
  MissingParameter: 'PUSH_ERR_MISSING_PARAMETER',
  InvalidParameter: 'PUSH_ERR_INVALID_PARAMETER',
  TooManyChannels: 'PUSH_ERR_TOO_MANY_CHANNELS',
  BatchTooLarge: 'PUSH_ERR_BATCH_TOO_LARGE',
  PayloadTooLarge: 'PUSH_ERR_PAYLOAD_TOO_LARGE',
  NotPresence: 'PUSH_ERR_NOT_PRESENCE_CHANNEL',
  InvalidSignature: 'PUSH_ERR_INVALID_SIGNATURE',
  UnknownAuthKey: 'PUSH_ERR_UNKNOWN_AUTH_KEY',
  AppDisabled: 'PUSH_ERR_APP_DISABLED',
  UnknownApp: 'PUSH_ERR_UNKNOWN_APP',
  NotFound: 'PUSH_ERR_NOT_FOUND',
  RateLimited: 'PUSH_ERR_RATE_LIMITED',
  StateUnavailable: 'PUSH_ERR_STATE_UNAVAILABLE',
  PublishUnavailable: 'PUSH_ERR_PUBLISH_UNAVAILABLE',
  Internal: 'PUSH_ERR_INTERNAL',
} as const;
export type ApiErrorCode = (typeof ApiErrorCode)[keyof typeof ApiErrorCode];

/** An HTTP API error: answered as `{"error": message, "code": status}` with that status. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly statusCode: number,
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (code: ApiErrorCode, message: string) => new ApiError(400, code, message);
export const missing = (name: string) => badRequest(ApiErrorCode.MissingParameter, `Missing required parameter: ${name}`);
export const invalidJson = () => badRequest(ApiErrorCode.InvalidJson, 'Invalid JSON');
export const payloadTooLarge = (max: number) =>
  new ApiError(413, ApiErrorCode.PayloadTooLarge, `Event data too large (max ${max} bytes)`);
