/** What a registry entry declares together: the string code, the HTTP status and the message. */
interface ApiErrorSpec {
  readonly code: `PUSH_ERR_${string}`;
  readonly status: number;
  readonly message: (...args: never[]) => string;
}

/** A message that is the detail the refusing check wrote (the check knows best what was wrong). */
const detail = (text: string) => text;

/**
 * Every error the REST API port answers with, declared once; errors are made only through
 * `apiError`. docs/errors.md lists each entry with its status, and test/docs/errors-registry.test.ts
 * compares the two entry by entry.
 */
export const API_ERRORS = {
  InvalidJson: { code: 'PUSH_ERR_INVALID_JSON', status: 400, message: (why?: string) => (why === undefined ? 'Invalid JSON' : `Invalid JSON: ${why}`) },
  MissingParameter: { code: 'PUSH_ERR_MISSING_PARAMETER', status: 400, message: (name: string) => `Missing required parameter: ${name}` },
  InvalidParameter: { code: 'PUSH_ERR_INVALID_PARAMETER', status: 400, message: detail },
  TooManyChannels: { code: 'PUSH_ERR_TOO_MANY_CHANNELS', status: 400, message: (max: number) => `Cannot trigger on more than ${max} channels` },
  BatchTooLarge: { code: 'PUSH_ERR_BATCH_TOO_LARGE', status: 400, message: (max: number) => `Cannot batch-send more than ${max} events` },
  PayloadTooLarge: { code: 'PUSH_ERR_PAYLOAD_TOO_LARGE', status: 413, message: (max: number) => `Event data too large (max ${max} bytes)` },
  BodyTooLarge: { code: 'PUSH_ERR_BODY_TOO_LARGE', status: 413, message: (max: number) => `Request body too large (max ${max} bytes)` },
  NotPresence: { code: 'PUSH_ERR_NOT_PRESENCE_CHANNEL', status: 400, message: detail },
  HistoryOff: { code: 'PUSH_ERR_HISTORY_OFF', status: 400, message: (channel: string) => `Channel ${JSON.stringify(channel)} keeps no history` },
  HistoryPositionLost: { code: 'PUSH_ERR_HISTORY_POSITION_LOST', status: 400, message: detail },
  InvalidSignature: { code: 'PUSH_ERR_INVALID_SIGNATURE', status: 401, message: detail },
  UnknownAuthKey: { code: 'PUSH_ERR_UNKNOWN_AUTH_KEY', status: 400, message: (why = 'Unknown auth_key') => why },
  AppDisabled: { code: 'PUSH_ERR_APP_DISABLED', status: 403, message: () => 'Application disabled' },
  UnknownApp: { code: 'PUSH_ERR_UNKNOWN_APP', status: 404, message: () => 'Unknown app' },
  NotFound: { code: 'PUSH_ERR_NOT_FOUND', status: 404, message: (what = 'Not found') => what },
  RateLimited: { code: 'PUSH_ERR_RATE_LIMITED', status: 429, message: (limit: number) => `Too many requests: at most ${limit} per second for this app` },
  InvalidUrl: { code: 'PUSH_ERR_INVALID_URL', status: 400, message: () => 'Invalid URL' },
  PathParameterTooLong: { code: 'PUSH_ERR_PATH_PARAMETER_TOO_LONG', status: 414, message: detail },
  MalformedRequest: { code: 'PUSH_ERR_MALFORMED_REQUEST', status: 400, message: (why = 'Malformed HTTP request') => why },
  RequestTimeout: { code: 'PUSH_ERR_REQUEST_TIMEOUT', status: 408, message: () => 'Request timeout' },
  HeadersTooLarge: { code: 'PUSH_ERR_HEADERS_TOO_LARGE', status: 431, message: () => 'Request headers too large' },
  ExpectationFailed: { code: 'PUSH_ERR_EXPECTATION_FAILED', status: 417, message: () => 'Expectation failed: only "Expect: 100-continue" is supported' },
  ShuttingDown: { code: 'PUSH_ERR_SHUTTING_DOWN', status: 503, message: () => 'Service Unavailable' },
  PublishUnavailable: {
    code: 'PUSH_ERR_PUBLISH_UNAVAILABLE',
    status: 503,
    message: () => "Not published: the cluster (Redis) is unreachable; only this node's subscribers received it. Retry shortly (they get it again)",
  },
  StateUnavailable: { code: 'PUSH_ERR_STATE_UNAVAILABLE', status: 503, message: () => 'Cluster state unreachable (Redis): retry shortly' },
  AdminUnauthorized: { code: 'PUSH_ERR_ADMIN_UNAUTHORIZED', status: 401, message: () => 'Unauthorized: send Authorization: Bearer <PUSH_ADMIN_TOKEN>' },
  DashboardSignedOut: { code: 'PUSH_ERR_DASHBOARD_SIGNED_OUT', status: 401, message: () => 'Not signed in to the dashboard, or the session expired' },
  DashboardCsrf: {
    code: 'PUSH_ERR_DASHBOARD_CSRF',
    status: 403,
    message: () => 'Missing or wrong X-Herald-CSRF header: read it from GET /dashboard/api/session',
  },
  WebhookOutboxFull: {
    code: 'PUSH_ERR_WEBHOOK_OUTBOX_FULL',
    status: 503,
    message: (refused: number) => `${refused} dead letters not replayed: the webhook outbox is full; retry later`,
  },
  InvalidApp: { code: 'PUSH_ERR_INVALID_APP', status: 400, message: detail },
  AppNotFound: { code: 'PUSH_ERR_APP_NOT_FOUND', status: 404, message: (id: string) => `No app with id ${id}` },
  StoreReadOnly: { code: 'PUSH_ERR_STORE_READ_ONLY', status: 405, message: detail },
  AppExists: { code: 'PUSH_ERR_APP_EXISTS', status: 409, message: detail },
  AppVersionConflict: { code: 'PUSH_ERR_APP_VERSION_CONFLICT', status: 409, message: detail },
  StoreUnavailable: { code: 'PUSH_ERR_STORE_UNAVAILABLE', status: 503, message: () => 'The app store cannot be reached: nothing was written, retry shortly' },
  Internal: { code: 'PUSH_ERR_INTERNAL', status: 500, message: () => 'Internal server error' },
} as const satisfies Record<string, ApiErrorSpec>;

export type ApiErrorName = keyof typeof API_ERRORS;
export type ApiErrorCode = (typeof API_ERRORS)[ApiErrorName]['code'];

/** An HTTP API error: answered with its status and `apiErrorBody(err)`. Made by `apiError` only. */
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

/** The registry entry `name`, its message filled in with `args`. */
export function apiError<N extends ApiErrorName>(name: N, ...args: Parameters<(typeof API_ERRORS)[N]['message']>): ApiError {
  const spec: ApiErrorSpec = API_ERRORS[name];
  return new ApiError(spec.status, spec.code as ApiErrorCode, (spec.message as (...a: unknown[]) => string)(...args));
}

/**
 * The body of every error answer of the API port. `error` (the message) and `code` (the numeric
 * status) are the soketi shape that existing tooling parses; `error_code` is the registry's string.
 */
export interface ApiErrorBody {
  error: string;
  code: number;
  error_code: ApiErrorCode;
}

export const apiErrorBody = (err: ApiError): ApiErrorBody => ({ error: err.message, code: err.statusCode, error_code: err.code });
