/** Every error the worker's HTTP port answers with, declared once (docs/errors.md lists them). */
export const WorkerHttpErrorCode = {
  /** 401: an administrative route without `Authorization: Bearer <PUSH_ADMIN_TOKEN>`, or with another token. */
  AdminUnauthorized: 'PUSH_ERR_ADMIN_UNAUTHORIZED',
  /** 400: a body or query the route does not take. */
  InvalidParameter: 'PUSH_ERR_INVALID_PARAMETER',
  /** 404: an unknown route, or an administrative one while PUSH_ADMIN_TOKEN is unset. */
  NotFound: 'PUSH_ERR_NOT_FOUND',
  /** 503: a dead-letter replay that does not fit in the outbox (PUSH_WEBHOOK_OUTBOX_MAX); the dead letters are kept. */
  OutboxFull: 'PUSH_ERR_WEBHOOK_OUTBOX_FULL',
  /** 500: a bug, or Redis unavailable; logged at `error`. */
  Internal: 'PUSH_ERR_INTERNAL',
} as const;
export type WorkerHttpErrorCode = (typeof WorkerHttpErrorCode)[keyof typeof WorkerHttpErrorCode];

/** Answered as `{"error": message, "code": statusCode}` (the HTTP API's shape) with that status. */
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

export const invalidParameter = (message: string) => new WorkerHttpError(400, WorkerHttpErrorCode.InvalidParameter, message);

/** The body of an error answer: the message and the HTTP status, never the request's content. */
export const errorBody = (statusCode: number, message: string) => ({ error: message, code: statusCode });
