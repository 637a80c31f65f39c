import { safeEqual, signWebhook, type WebhookEvent } from '@herald/protocol';

export type { WebhookEvent };

export type WebhookVerification = { valid: true; events: WebhookEvent[]; timeMs: number } | { valid: false; reason: string };

/** Node `req.headers` (lower-case keys), a plain record in any case, or a fetch `Headers`. */
export type WebhookHeaders = Record<string, string | string[] | undefined> | { get(name: string): string | null };

export interface VerifyWebhookOptions {
  /**
   * Refuse webhooks whose `time_ms` is further than this from `nowMs` (replay protection;
   * pusher-http-python uses 300000). Off by default, like pusher-http-node, because senders retry
   * with the original `time_ms` for up to 5 minutes. @default undefined
   */
  maxAgeMs?: number;
  /** @default Date.now() */
  nowMs?: number;
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(n: string): string | null }).get(name) ?? undefined;
  }
  const rec = headers as Record<string, string | string[] | undefined>;
  let v = rec[name];
  if (v === undefined) {
    const key = Object.keys(rec).find((k) => k.toLowerCase() === name);
    v = key === undefined ? undefined : rec[key];
  }
  // A repeated header is ambiguous: refuse rather than pick one.
  return Array.isArray(v) ? (v.length === 1 ? v[0] : undefined) : v;
}

/**
 * Checks a webhook request (docs/reference/webhooks.md#verifying-a-webhook): `X-Pusher-Key` is `key`, `X-Pusher-Signature` is
 * the HMAC-SHA256 of the exact raw body under `secret` (compared in constant time), and the body is
 * JSON with a numeric `time_ms` and an `events` array of objects with a string `name`. Pass the body
 * bytes as received: a re-serialised body will not verify. Accepts every well-formed webhook that
 * pusher-http-node's `webhook().isValid()` accepts; unlike it, the Content-Type header is not compared
 * (the signature covers the body, and `application/json; charset=utf-8` is as good as
 * `application/json`), and a signed body without `time_ms`/`events` is refused.
 * Event names outside the Pusher set (webman-format `channel_added`...) are passed through as sent.
 */
export function verifyWebhook(
  creds: { key: string; secret: string },
  headers: WebhookHeaders,
  rawBody: string | Uint8Array,
  opts: VerifyWebhookOptions = {},
): WebhookVerification {
  if (headers === null || typeof headers !== 'object') return { valid: false, reason: 'No headers' };
  const key = header(headers, 'x-pusher-key');
  if (key === undefined) return { valid: false, reason: 'Missing X-Pusher-Key header' };
  if (!safeEqual(key, creds.key)) return { valid: false, reason: 'X-Pusher-Key is not this app key' };
  const signature = header(headers, 'x-pusher-signature');
  if (signature === undefined) return { valid: false, reason: 'Missing X-Pusher-Signature header' };
  if (typeof rawBody !== 'string' && !(rawBody instanceof Uint8Array)) return { valid: false, reason: 'The raw body must be a string or bytes' };
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : Buffer.from(rawBody.buffer, rawBody.byteOffset, rawBody.byteLength);
  if (!safeEqual(signature, signWebhook(creds.secret, body))) return { valid: false, reason: 'Invalid X-Pusher-Signature' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return { valid: false, reason: 'Body is not JSON' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { valid: false, reason: 'Body is not a JSON object' };
  const { time_ms: timeMs, events } = parsed as { time_ms?: unknown; events?: unknown };
  if (typeof timeMs !== 'number' || !Number.isFinite(timeMs)) return { valid: false, reason: 'time_ms is missing or not a number' };
  if (!Array.isArray(events) || !events.every((e) => e !== null && typeof e === 'object' && typeof (e as { name?: unknown }).name === 'string')) {
    return { valid: false, reason: 'events must be an array of objects with a name' };
  }
  if (opts.maxAgeMs !== undefined && Math.abs((opts.nowMs ?? Date.now()) - timeMs) > opts.maxAgeMs) {
    return { valid: false, reason: `time_ms is more than ${opts.maxAgeMs} ms away from now` };
  }
  return { valid: true, events: events as WebhookEvent[], timeMs };
}
