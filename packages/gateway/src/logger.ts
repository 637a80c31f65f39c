import { pino, type Logger } from 'pino';

export type { Logger };

/** One root logger per process; components get children. Secrets and auth values are redacted. */
export const createLogger = (service: string, opts: { level: string; nodeId: string }): Logger =>
  pino({
    level: opts.level,
    base: { service, nodeId: opts.nodeId },
    redact: {
      paths: ['secret', '*.secret', 'apps[*].secret', 'auth', '*.auth', 'req.headers.authorization', 'channel_data', '*.channel_data'],
      censor: '[redacted]',
    },
  });
