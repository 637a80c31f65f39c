/** Reconnect delays: exponential from `minDelayMs`, doubling per failed attempt up to `maxDelayMs`. */
export interface ReconnectOptions {
  /** Ceiling of the first retry delay. @default 1000 */
  minDelayMs: number;
  /** Largest ceiling. @default 30000 */
  maxDelayMs: number;
}

export const DEFAULT_RECONNECT: Readonly<ReconnectOptions> = Object.freeze({ minDelayMs: 1000, maxDelayMs: 30_000 });

/** "Reconnect now" (close codes 4200-4299, back online) still waits a little, so a fleet does not reconnect in lockstep. */
export const IMMEDIATE_JITTER_MS = 250;

/** Beyond this the ceiling is `maxDelayMs` anyway; the cap keeps `2 ** n` finite. */
const MAX_EXPONENT = 30;

export function normalizeReconnectOptions(o: Partial<ReconnectOptions> | undefined): ReconnectOptions {
  const min = o?.minDelayMs ?? DEFAULT_RECONNECT.minDelayMs;
  const max = o?.maxDelayMs ?? Math.max(min, DEFAULT_RECONNECT.maxDelayMs);
  if (!Number.isFinite(min) || min < 0) throw new TypeError(`reconnect.minDelayMs must be a number >= 0 (got ${min})`);
  if (!Number.isFinite(max) || max < min) throw new TypeError(`reconnect.maxDelayMs must be >= minDelayMs (got ${max})`);
  return { minDelayMs: min, maxDelayMs: max };
}

/** Upper bound of the delay before retry number `attempt` (0-based). */
export function backoffCeiling(attempt: number, o: ReconnectOptions): number {
  return Math.min(o.maxDelayMs, o.minDelayMs * 2 ** Math.min(Math.max(attempt, 0), MAX_EXPONENT));
}

/**
 * Exponential back-off with full jitter: each delay is uniform in [0, ceiling), so clients cut
 * off together (server restart, network blip) spread their reconnects instead of stampeding.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly options: ReconnectOptions,
    private readonly random: () => number = () => Math.random(),
  ) {}

  /** Failed attempts since the last `reset()`. */
  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next retry; each call counts one more failed attempt. */
  next(): number {
    const ceiling = backoffCeiling(this.attempt, this.options);
    this.attempt++;
    return Math.floor(this.random() * ceiling);
  }

  /** After a successful connection: the next failure starts from `minDelayMs` again. */
  reset(): void {
    this.attempt = 0;
  }
}
