import * as crypto from 'node:crypto';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Lowercase hex HMAC-SHA256 with the app secret as key: every Pusher signature uses it. */
export const hmacSha256Hex = (secret: string, message: string | Buffer): string => createHmac('sha256', secret).update(message).digest('hex');

/** One-shot `crypto.hash` where Node has it (20.12+): cheaper than a Hash object per request. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string | Buffer, encoding: 'hex') => string }).hash;

export const md5Hex = (body: string | Buffer): string => (oneShot !== undefined ? oneShot('md5', body, 'hex') : createHash('md5').update(body).digest('hex'));

/** Constant-time string comparison; unequal lengths fail without comparing contents. */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** `<socket_id>:<channel>[:<channel_data>]` (docs/reference/auth.md#what-is-signed). */
export const channelAuthString = (socketId: string, channel: string, channelData?: string) =>
  channelData === undefined ? `${socketId}:${channel}` : `${socketId}:${channel}:${channelData}`;

/** `<socket_id>::user::<user_data>` (docs/reference/auth.md#what-is-signed). */
export const userAuthString = (socketId: string, userData: string) => `${socketId}::user::${userData}`;

/** What an app's auth endpoint returns in `auth`: `<key>:<hex>`. */
export const signChannel = (key: string, secret: string, socketId: string, channel: string, channelData?: string) =>
  `${key}:${hmacSha256Hex(secret, channelAuthString(socketId, channel, channelData))}`;

export const signUser = (key: string, secret: string, socketId: string, userData: string) =>
  `${key}:${hmacSha256Hex(secret, userAuthString(socketId, userData))}`;

export type AuthCheck = { ok: true } | { ok: false; reason: string };

/**
 * An app's signing credentials: the secret, and secrets replaced by a rotation that still verify
 * until they expire, so signers roll over to the new one without failed requests.
 */
export interface SigningCredentials {
  key: string;
  secret: string;
  /** Earlier secrets still accepted, each until `expiresAt` (ms since the epoch). */
  previousSecrets?: readonly { secret: string; expiresAt: number }[] | undefined;
}

/** True when `signature` is the HMAC of `message` under the secret or a previous secret still in its grace period. */
export function signedByApp(app: SigningCredentials, message: string, signature: string, nowMs = Date.now()): boolean {
  if (safeEqual(signature, hmacSha256Hex(app.secret, message))) return true;
  for (const p of app.previousSecrets ?? []) {
    if (p.expiresAt > nowMs && safeEqual(signature, hmacSha256Hex(p.secret, message))) return true;
  }
  return false;
}

/**
 * Checks an `auth` value `<key>:<hex>` against the string it must sign, in constant time.
 * `describe` names the thing being authorised in the failure text (Pusher's wording).
 */
export function verifyAuthValue(auth: unknown, app: SigningCredentials, stringToSign: string, describe: string): AuthCheck {
  if (typeof auth !== 'string' || auth.length === 0) {
    return { ok: false, reason: `Auth info required to subscribe to ${describe}` };
  }
  const colon = auth.indexOf(':');
  if (colon <= 0 || auth.indexOf(':', colon + 1) !== -1) {
    return { ok: false, reason: `Auth value for subscription to ${describe} is invalid: should be of format 'key:signature'` };
  }
  const key = auth.slice(0, colon);
  if (!safeEqual(key, app.key)) {
    return { ok: false, reason: `Invalid key in subscription auth data: '${key.slice(0, 64)}'` };
  }
  if (!signedByApp(app, stringToSign, auth.slice(colon + 1))) {
    return { ok: false, reason: `Invalid signature: Expected HMAC SHA256 hex digest of ${stringToSign}, but got ${auth.slice(colon + 1, colon + 80)}` };
  }
  return { ok: true };
}

/** Webhook bodies are signed over the exact bytes sent (docs/reference/webhooks.md#the-request). */
export const signWebhook = (secret: string, body: string | Buffer) => hmacSha256Hex(secret, body);
