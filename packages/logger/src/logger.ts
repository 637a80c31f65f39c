import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Fields no log line may carry in clear, whichever process writes it: app secrets (alone, nested,
 * or in the apps list of a config), the administrative bearer token, auth signatures, the
 * Authorization header of a request, and presence `channel_data` (user ids and user info).
 */
export const REDACTED_PATHS: readonly string[] = [
  'secret',
  '*.secret',
  'apps[*].secret',
  'adminToken',
  '*.adminToken',
  'auth',
  '*.auth',
  'req.headers.authorization',
  'channel_data',
  '*.channel_data',
];

export interface LoggerOptions {
  /** pino level name (`LOG_LEVEL`). */
  level: string;
  /** Bound to every line, so the lines of several nodes can be told apart. */
  nodeId: string;
  /** Where lines go. @default standard output */
  destination?: DestinationStream;
}

/**
 * The root logger of one process (`service`: gateway, webhook-worker); components get children.
 * The fields of REDACTED_PATHS are written as `[redacted]`.
 */
export function createLogger(service: string, opts: LoggerOptions): Logger {
  const options = {
    level: opts.level,
    base: { service, nodeId: opts.nodeId },
    redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
  };
  return opts.destination === undefined ? pino(options) : pino(options, opts.destination);
}
