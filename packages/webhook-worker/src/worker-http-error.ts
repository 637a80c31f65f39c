/** What a registry entry declares together: the string code, the HTTP status and the message. */
interface WorkerHttpErrorSpec {
  readonly code: `PUSH_ERR_${string}`;
  readonly status: number;
  readonly message: (...args: never[]) => string;
}

/**
 * Every error the worker's HTTP port answers with, declared once; errors are made only through
 * `workerHttpError`. docs/errors.md lists each entry with its status, and
 * test/docs/errors-registry.test.ts compares the two entry by entry.
 */
export const WORKER_HTTP_ERRORS = {
  /** An administrative route without `Authorization: Bearer <PUSH_ADMIN_TOKEN>`, or with another token. */
  AdminUnauthorized: {
    code: 'PUSH_ERR_ADMIN_UNAUTHORIZED',
    status: 401,
    message: (reason: 'missing' | 'invalid') =>
      reason === 'missing' ? 'Missing admin token: send Authorization: Bearer <PUSH_ADMIN_TOKEN>' : 'Invalid admin token',
  },
  /** A body or query the route does not take; the message says what it takes. */
  InvalidParameter: { code: 'PUSH_ERR_INVALID_PARAMETER', status: 400, message: (detail: string) => detail },
  /** An unknown route, or an administrative one while PUSH_ADMIN_TOKEN is unset. */
  NotFound: { code: 'PUSH_ERR_NOT_FOUND', status: 404, message: () => 'Not found' },
  /** A body over the dead-letter routes' limit. */
  BodyTooLarge: { code: 'PUSH_ERR_BODY_TOO_LARGE', status: 413, message: (max: number) => `Request body too large (max ${max} bytes)` },
  /** A request fastify cannot take: a broken URL escape, a Content-Length that lies. */
  MalformedRequest: { code: 'PUSH_ERR_MALFORMED_REQUEST', status: 400, message: (detail: string) => detail },
  /** An `Expect` header other than 100-continue (Node would answer a bare 417). */
  ExpectationFailed: { code: 'PUSH_ERR_EXPECTATION_FAILED', status: 417, message: () => 'Expectation failed: only "Expect: 100-continue" is supported' },
  /** A dead-letter replay that does not fit in the outbox (PUSH_WEBHOOK_OUTBOX_MAX); the dead letters are kept. */
  OutboxFull: {
    code: 'PUSH_ERR_WEBHOOK_OUTBOX_FULL',
    status: 503,
    message: (max: number, refused: number) =>
      `The webhook outbox is full (PUSH_WEBHOOK_OUTBOX_MAX ${max}): ${refused} dead letters kept, not replayed; retry once the backlog drains`,
  },
  /** A bug, or Redis unavailable; logged at `error`. */
  Internal: { code: 'PUSH_ERR_INTERNAL', status: 500, message: () => 'Internal error' },
} as const satisfies Record<string, WorkerHttpErrorSpec>;

export type WorkerHttpErrorName = keyof typeof WORKER_HTTP_ERRORS;
export type WorkerHttpErrorCode = (typeof WORKER_HTTP_ERRORS)[WorkerHttpErrorName]['code'];
/** Each entry's string code by name, for callers that match on a code. */
export const WorkerHttpErrorCode = Object.fromEntries(Object.entries(WORKER_HTTP_ERRORS).map(([name, spec]) => [name, spec.code])) as {
  readonly [N in WorkerHttpErrorName]: (typeof WORKER_HTTP_ERRORS)[N]['code'];
};

/** Answered with its status and `workerErrorBody(err)`. Made by `workerHttpError` only. */
export class WorkerHttpError extends Error {
  override readonly name = 'WorkerHttpError';
  constructor(
    readonly statusCode: number,
    readonly code: WorkerHttpErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The registry entry `name`, its message filled in with `args`. */
export function workerHttpError<N extends WorkerHttpErrorName>(name: N, ...args: Parameters<(typeof WORKER_HTTP_ERRORS)[N]['message']>): WorkerHttpError {
  const spec: WorkerHttpErrorSpec = WORKER_HTTP_ERRORS[name];
  return new WorkerHttpError(spec.status, spec.code as WorkerHttpErrorCode, (spec.message as (...a: unknown[]) => string)(...args));
}

export const invalidParameter = (message: string) => workerHttpError('InvalidParameter', message);

/**
 * The body of an error answer, the HTTP API's shape: `error` (the message, never the request's
 * content), `code` (the numeric status) and `error_code` (the registry's string).
 */
export const workerErrorBody = (err: WorkerHttpError) => ({ error: err.message, code: err.statusCode, error_code: err.code });
