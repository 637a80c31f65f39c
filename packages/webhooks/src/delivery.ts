import { setTimeout as sleep } from 'node:timers/promises';
import { signWebhook } from '@herald/protocol';
import { WebhookDeliveryError, WebhookErrorCode, toDeliveryError } from './delivery-error.js';
import { resolveRetryPolicy, retryDelayMs, type RetryOptions, type RetryPolicy } from './retry-policy.js';
import type { WebhookDeliveryRecord } from '@herald/broker';
import type { WebhookTarget } from '@herald/config';
import type { DeadLetterHandler, WebhookApp, WebhookBatch, WebhookLogger, WebhookOutcomeHandler, WebhookOutcomeDebug } from './types.js';

export interface DeliveryOptions {
  log: WebhookLogger;
  retry?: RetryOptions;
  /** For tests only. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** @default logs the batch id, url and error at `error` */
  onDeadLetter?: DeadLetterHandler;
  /** Clock for the retry window. @default Date.now */
  now?: () => number;
  /** Called once per batch that got a 2xx (the Redis outbox acknowledges its entries here). */
  onDelivered?: (batch: WebhookBatch, target: WebhookTarget) => void;
  /** Called with every request's outcome (delivered, retrying, dead_lettered): the delivery log. */
  onOutcome?: WebhookOutcomeHandler;
  /** Where the same outcomes go as `webhook` debug records, while a console of the app is open. */
  debug?: WebhookOutcomeDebug;
}

export interface DeliveryStats {
  /** Batches answered with a 2xx. */
  sent: number;
  /** Attempts that failed (each retry counts). */
  failedAttempts: number;
  /** Batches given up on. */
  deadLettered: number;
}

/** Headers the delivery owns; a target's custom header with one of these names (any case) is dropped. */
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'x-pusher-key', 'x-pusher-signature', 'x-herald-webhook-id', 'x-herald-event-ids']);

/**
 * Posts webhook batches, each independently: `deliver()` returns at once and a slow or dead receiver only
 * delays its own batches. At-least-once within the retry window: a batch may arrive more than once
 * (receivers de-duplicate with `X-Herald-Webhook-Id`), and is handed to `onDeadLetter` exactly once if it
 * never got a 2xx.
 */
export class WebhookDelivery {
  readonly #log: WebhookLogger;
  readonly #retry: RetryPolicy;
  readonly #fetch: typeof fetch;
  readonly #onDeadLetter: DeadLetterHandler;
  readonly #onDelivered: ((batch: WebhookBatch, target: WebhookTarget) => void) | undefined;
  readonly #onOutcome: WebhookOutcomeHandler | undefined;
  readonly #debug: WebhookOutcomeDebug | undefined;
  readonly #now: () => number;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #shutdown = new AbortController();
  readonly #stats: DeliveryStats = { sent: 0, failedAttempts: 0, deadLettered: 0 };

  constructor(options: DeliveryOptions) {
    this.#log = options.log;
    this.#retry = resolveRetryPolicy(options.retry);
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#now = options.now ?? Date.now;
    this.#onDelivered = options.onDelivered;
    this.#onOutcome = options.onOutcome;
    this.#debug = options.debug;
    this.#onDeadLetter =
      options.onDeadLetter ??
      ((batch, target, err) =>
        this.#log.error(
          { url: parseTarget(target.url)?.loggable ?? '[invalid url]', webhookId: batch.id, events: batch.events.length, err: err.message },
          'webhook dead-lettered',
        ));
  }

  /** Batches being sent or waiting for a retry. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  stats(): DeliveryStats {
    return { ...this.#stats };
  }

  /** Starts delivering in the background; never throws. */
  deliver(app: WebhookApp, target: WebhookTarget, batch: WebhookBatch): void {
    const run = this.#run(app, target, batch)
      .catch((err: unknown) => this.#log.error({ err, webhookId: batch.id }, 'webhook delivery failed unexpectedly'))
      .finally(() => this.#inFlight.delete(run));
    this.#inFlight.add(run);
  }

  /** Resolves true once nothing is in flight, or false after `timeoutMs` with deliveries still running. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#inFlight.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, left);
      });
      await Promise.race([Promise.all(this.#inFlight), timedOut]);
      clearTimeout(timer);
    }
    return true;
  }

  /** Aborts running attempts and retry waits; their batches are dead-lettered with code `Aborted`. */
  abort(): void {
    this.#shutdown.abort();
  }

  async #run(app: WebhookApp, target: WebhookTarget, batch: WebhookBatch): Promise<void> {
    // Serialised once: the signature covers these exact bytes, and every retry resends them.
    const body = Buffer.from(JSON.stringify({ time_ms: batch.timeMs, events: batch.events }), 'utf8');
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(target.headers ?? {})) {
      if (!RESERVED_HEADERS.has(name.toLowerCase())) headers[name] = value;
    }
    // Exact spelling matters: pusher-http-node compares Content-Type for equality, PHP apps look up X-Pusher-Key case-sensitively.
    headers['Content-Type'] = 'application/json';
    headers['X-Pusher-Key'] = app.key;
    headers['X-Pusher-Signature'] = signWebhook(app.secret, body);
    headers['X-Herald-Webhook-Id'] = batch.id;
    if (batch.eventIds !== undefined && batch.eventIds.length > 0) headers['X-Herald-Event-Ids'] = batch.eventIds.join(',');

    const endpoint = parseTarget(target.url);
    const url = endpoint?.loggable ?? '[invalid url]';
    const deadline = this.#now() + this.#retry.windowMs;
    let lastError: WebhookDeliveryError;
    if (endpoint === undefined) {
      lastError = new WebhookDeliveryError(WebhookErrorCode.InvalidUrl, 'target url is not a valid http(s) url');
      this.#stats.failedAttempts++;
      this.#log.warn({ url, appId: app.id, webhookId: batch.id, attempt: 1, err: lastError.message }, 'webhook attempt failed');
      this.#outcome(app, batch, url, 1, 0, lastError, 'dead_lettered');
      this.#deadLetter(app, batch, target, lastError);
      return;
    }
    // Credentials in the URL become Basic auth: fetch refuses URLs with userinfo.
    if (endpoint.authorization !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) {
      headers['Authorization'] = endpoint.authorization;
    }
    for (let attempt = 1; ; attempt++) {
      const startedAt = performance.now();
      const answer = await this.#attempt(endpoint.href, headers, body);
      const latencyMs = performance.now() - startedAt;
      if (typeof answer === 'number') {
        this.#stats.sent++;
        this.#log.debug({ url, appId: app.id, webhookId: batch.id, attempt, events: batch.events.length }, 'webhook delivered');
        this.#outcome(app, batch, url, attempt, latencyMs, answer, 'delivered');
        try {
          this.#onDelivered?.(batch, target);
        } catch (err) {
          this.#log.error({ err, webhookId: batch.id }, 'onDelivered threw');
        }
        return;
      }
      const error = answer;
      lastError = error;
      this.#stats.failedAttempts++;
      this.#log.warn(
        { url, appId: app.id, webhookId: batch.id, attempt, ...(error.status === undefined ? { err: error.message } : { status: error.status }) },
        'webhook attempt failed',
      );
      const wait = retryDelayMs(this.#retry, attempt);
      if (this.#shutdown.signal.aborted || this.#now() + wait > deadline) {
        this.#outcome(app, batch, url, attempt, latencyMs, error, 'dead_lettered');
        break;
      }
      this.#outcome(app, batch, url, attempt, latencyMs, error, 'retrying');
      try {
        await sleep(wait, undefined, { signal: this.#shutdown.signal, ref: false });
      } catch (err) {
        lastError = toDeliveryError(err, true, this.#retry.attemptTimeoutMs);
        // The retry announced will not come: the log says how the batch ended.
        this.#outcome(app, batch, url, attempt, 0, lastError, 'dead_lettered');
        break;
      }
    }
    this.#deadLetter(app, batch, target, lastError);
  }

  /** Tells the delivery log and the debug console about one request's outcome; neither may disturb the delivery. */
  #outcome(
    app: WebhookApp,
    batch: WebhookBatch,
    url: string,
    attempt: number,
    latencyMs: number,
    answer: number | WebhookDeliveryError,
    outcome: WebhookDeliveryRecord['outcome'],
  ): void {
    const debug = this.#debug;
    const watched = debug !== undefined && debug.sink.watching(app.id);
    if (this.#onOutcome === undefined && !watched) return;
    const at = Date.now();
    const events = batch.events.map((e) => e.name as string);
    // A status when the receiver answered, else why no answer came.
    const result = typeof answer === 'number' ? { status: answer } : answer.status !== undefined ? { status: answer.status } : { error: answer.message };
    const rounded = Math.round(latencyMs * 10) / 10;
    try {
      this.#onOutcome?.({ id: batch.id, appId: app.id, url, events, ...result, latencyMs: rounded, attempt, outcome, at });
    } catch (err) {
      this.#log.error({ err, webhookId: batch.id }, 'onOutcome threw');
    }
    // DebugSink.emit never throws (its contract).
    if (watched) debug.sink.emit(app.id, { kind: 'webhook', at, node: debug.node, url, events, ...result, latencyMs: rounded, attempt, outcome });
  }

  #deadLetter(app: WebhookApp, batch: WebhookBatch, target: WebhookTarget, lastError: WebhookDeliveryError): void {
    this.#stats.deadLettered++;
    try {
      this.#onDeadLetter(batch, target, lastError, app);
    } catch (err) {
      this.#log.error({ err, webhookId: batch.id }, 'onDeadLetter threw');
    }
  }

  /**
   * One POST; resolves with the status on 2xx, the failure otherwise (never rejects). `body` is
   * ArrayBuffer-backed, which the DOM lib's `BodyInit` also accepts (the lint program includes it).
   */
  async #attempt(url: string, headers: Record<string, string>, body: Buffer<ArrayBuffer>): Promise<WebhookDeliveryError | number> {
    const timeoutMs = this.#retry.attemptTimeoutMs;
    try {
      const res = await this.#fetch(url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), this.#shutdown.signal]),
      });
      // The body is never read; cancelling frees the connection.
      await res.body?.cancel().catch(() => undefined /* connection already closed: nothing to free */);
      if (res.status >= 200 && res.status < 300) return res.status;
      return new WebhookDeliveryError(WebhookErrorCode.HttpStatus, `receiver answered ${res.status}`, res.status);
    } catch (err) {
      return toDeliveryError(err, this.#shutdown.signal.aborted, timeoutMs);
    }
  }
}

interface Endpoint {
  /** What fetch is given: no userinfo. */
  href: string;
  /** Safe to log: no userinfo (a query string is the operator's choice and is logged). */
  loggable: string;
  authorization?: string;
}

/** Parses a target URL once; undefined if it cannot be posted to. */
function parseTarget(raw: string): Endpoint | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined; // reported as InvalidUrl without the raw text, which may hold credentials
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username === '' && url.password === '') return { href: url.href, loggable: url.href };
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  url.username = '';
  url.password = '';
  return { href: url.href, loggable: url.href, authorization: `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}` };
}
