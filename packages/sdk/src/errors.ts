/**
 * Every failure the SDK reports, declared once. README.md documents each code (a test checks).
 * `status` is the HTTP status for `HttpStatus` and `InvalidResponse`, and 0 for everything that never
 * got an HTTP answer (bad input, network, timeout, closed client).
 */
export const HeraldApiErrorCode = {
  /** An argument was refused before anything was sent (channel name, socket id, sizes...). */
  InvalidArgument: 'PUSH_ERR_SDK_INVALID_ARGUMENT',
  /** The constructor options are unusable (URL, credentials, master key, timeout). */
  InvalidOptions: 'PUSH_ERR_SDK_INVALID_OPTIONS',
  /** The server answered with a non-2xx status; `body` is its response text, verbatim. */
  HttpStatus: 'PUSH_ERR_SDK_HTTP_STATUS',
  /** The server answered 2xx with a body that is not the expected JSON. */
  InvalidResponse: 'PUSH_ERR_SDK_INVALID_RESPONSE',
  /** The connection failed (refused, reset, DNS...); the original error is the `cause`. */
  Network: 'PUSH_ERR_SDK_NETWORK',
  /** No complete response within `timeoutMs`; the request was aborted. */
  Timeout: 'PUSH_ERR_SDK_TIMEOUT',
  /** A request was made after `close()`. */
  Closed: 'PUSH_ERR_SDK_CLOSED',
} as const;
export type HeraldApiErrorCode = (typeof HeraldApiErrorCode)[keyof typeof HeraldApiErrorCode];

/** A field the server refused, as a validation refusal's `fields` names it (`webhooks.0.url`). */
export interface FieldIssue {
  readonly field: string;
  readonly message: string;
}

/** The one error type the SDK throws (synchronously for signing helpers, as a rejection for requests). */
export class HeraldApiError extends Error {
  override readonly name = 'HeraldApiError';
  /**
   * The server's own string code (`error_code` of its JSON error body, e.g. `PUSH_ERR_APP_NOT_FOUND`),
   * for `HttpStatus` errors whose body carries one; undefined otherwise.
   */
  readonly errorCode: string | undefined;
  /** Each field a validation refusal names (the body's `fields`); empty when it names none. */
  readonly fields: readonly FieldIssue[];

  constructor(
    readonly code: HeraldApiErrorCode,
    message: string,
    /** HTTP status of the answer, or 0 when there was none. */
    readonly status = 0,
    /** The response text as received ('' when there was no response). */
    readonly body = '',
    options?: ErrorOptions,
  ) {
    super(message, options);
    const parsed = code === HeraldApiErrorCode.HttpStatus ? parseErrorBody(body) : undefined;
    this.errorCode = parsed?.errorCode;
    this.fields = parsed?.fields ?? [];
  }
}

/**
 * Herald's error bodies are `{"error", "code", "error_code"}`, plus `fields` for a validation
 * refusal (docs/errors.md). Anything else (another server's text, a proxy's HTML page) yields
 * nothing: the verbatim `body` stays the source of truth.
 */
function parseErrorBody(body: string): { errorCode: string | undefined; fields: readonly FieldIssue[] } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined; // not JSON: nothing to read beyond the text itself
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const { error_code: errorCode, fields } = parsed as { error_code?: unknown; fields?: unknown };
  const issues = Array.isArray(fields)
    ? fields
        .filter((f): f is { field: string; message: string } => f !== null && typeof f === 'object' && typeof (f as FieldIssue).field === 'string')
        .map((f) => Object.freeze({ field: f.field, message: typeof f.message === 'string' ? f.message : '' }))
    : [];
  return { errorCode: typeof errorCode === 'string' ? errorCode : undefined, fields: Object.freeze(issues) };
}

export const invalidArgument = (message: string, options?: ErrorOptions) => new HeraldApiError(HeraldApiErrorCode.InvalidArgument, message, 0, '', options);

export const invalidOptions = (message: string) => new HeraldApiError(HeraldApiErrorCode.InvalidOptions, message);

/** The first 200 characters of the body go in the message; the whole body stays in `body`. */
export const httpStatus = (method: string, path: string, status: number, body: string) =>
  new HeraldApiError(HeraldApiErrorCode.HttpStatus, `${method} ${path} answered ${status}: ${body.slice(0, 200)}`, status, body);

export const invalidResponse = (method: string, path: string, status: number, body: string, why: string) =>
  new HeraldApiError(HeraldApiErrorCode.InvalidResponse, `${method} ${path} answered ${status} with ${why}`, status, body);

export const networkError = (method: string, path: string, cause: unknown) =>
  new HeraldApiError(HeraldApiErrorCode.Network, `${method} ${path} failed: ${cause instanceof Error ? cause.message : String(cause)}`, 0, '', { cause });

export const timeoutError = (method: string, path: string, timeoutMs: number) =>
  new HeraldApiError(HeraldApiErrorCode.Timeout, `${method} ${path} timed out after ${timeoutMs} ms`);

export const closedError = () => new HeraldApiError(HeraldApiErrorCode.Closed, 'The Api was closed; create a new one');
