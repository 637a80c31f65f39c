/** What a registry entry declares together: the string code and the message. */
interface StartupErrorSpec {
  readonly code: `PUSH_ERR_${string}`;
  readonly message: (...args: never[]) => string;
}

/**
 * Every reason a Herald process refuses to start (or, for the webhook worker, to become ready),
 * declared once; each has its class below or beside the code that throws it, and every class
 * takes its code and message from here. docs/errors.md lists each entry, and
 * test/docs/errors-registry.test.ts compares the two entry by entry.
 */
export const STARTUP_ERRORS = {
  /** The message names each variable or app at fault. */
  Config: { code: 'PUSH_ERR_CONFIG', message: (detail: string) => detail },
  UwsFallback: {
    code: 'PUSH_ERR_UWS_FALLBACK',
    message: () =>
      'uWebSockets.js native binary did not load (pure-JS fallback in use); this platform needs Linux/macOS x64/arm64 with Node 18 or 20. Set PUSH_ALLOW_UWS_FALLBACK=1 to run slowly anyway.',
  },
  /** The message says which Redis node lacks which flags and what to configure. */
  KeyspaceEvents: { code: 'PUSH_ERR_KEYSPACE_EVENTS', message: (detail: string) => detail },
} as const satisfies Record<string, StartupErrorSpec>;

export type StartupErrorName = keyof typeof STARTUP_ERRORS;
export type StartupErrorCode = (typeof STARTUP_ERRORS)[StartupErrorName]['code'];

/** A start-up refusal: `code` and message come from the registry entry `entry`. */
export abstract class StartupError<E extends StartupErrorName = StartupErrorName> extends Error {
  readonly code: (typeof STARTUP_ERRORS)[E]['code'];
  protected constructor(entry: E, ...args: Parameters<(typeof STARTUP_ERRORS)[E]['message']>) {
    const spec: StartupErrorSpec = STARTUP_ERRORS[entry];
    super((spec.message as (...a: unknown[]) => string)(...args));
    this.code = spec.code as (typeof STARTUP_ERRORS)[E]['code'];
  }
}

/** A configuration Herald refuses to start with; the message names each variable or app at fault. */
export class ConfigError extends StartupError<'Config'> {
  override readonly name = 'ConfigError';
  constructor(detail: string) {
    super('Config', detail);
  }
}
