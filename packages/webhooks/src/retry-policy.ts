/** Retry settings for one webhook batch; every field has a default. */
export interface RetryOptions {
  /** Wait before the first retry. @default 1000 */
  initialDelayMs?: number;
  /** Each wait is the previous one times this. @default 2 */
  factor?: number;
  /** Cap on a single wait. @default 60000 */
  maxDelayMs?: number;
  /**
   * No attempt starts later than this after the batch's first attempt; then the batch is dead-lettered.
   * Keep it at or under 5 minutes: pusher-http-python rejects a `time_ms` older than that, and retries keep it.
   * @default 300000
   */
  windowMs?: number;
  /** Each attempt is aborted after this; a timeout counts as a failure. @default 10000 */
  attemptTimeoutMs?: number;
  /** Each wait is scaled by a random factor in [1 - jitter, 1 + jitter], so receivers are not hit in lockstep. @default 0.2 */
  jitter?: number;
}

export type RetryPolicy = Readonly<Required<RetryOptions>>;

const DEFAULT_RETRY: RetryPolicy = Object.freeze({
  initialDelayMs: 1000,
  factor: 2,
  maxDelayMs: 60_000,
  windowMs: 300_000,
  attemptTimeoutMs: 10_000,
  jitter: 0.2,
});

export function resolveRetryPolicy(options: RetryOptions = {}): RetryPolicy {
  const policy = { ...DEFAULT_RETRY };
  for (const [name, value] of Object.entries(options) as [keyof RetryOptions, number | undefined][]) {
    if (value === undefined) continue;
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`retry.${name} must be a finite number >= 0, got ${value}`);
    policy[name] = value;
  }
  policy.jitter = Math.min(policy.jitter, 1);
  return Object.freeze(policy);
}

/** Wait before retry number `retry` (1 for the first retry), jittered and capped at `maxDelayMs`. */
export function retryDelayMs(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const base = Math.min(policy.initialDelayMs * policy.factor ** (retry - 1), policy.maxDelayMs);
  const scaled = base * (1 + policy.jitter * (2 * random() - 1));
  return Math.round(Math.min(scaled, policy.maxDelayMs));
}
