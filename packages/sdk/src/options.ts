import { DEFAULT_LIMITS, type AppLimits } from '@herald/protocol';
import { invalidOptions } from './errors.js';

/**
 * How non-encrypted event data becomes the `data` string sent to the server.
 * - `auto`: strings are sent as they are, anything else is JSON-encoded once (pusher-http-node).
 * - `always`: everything is JSON-encoded, strings too (`'hi'` is sent as `"\"hi\""`), like webman/push's
 *   PHP `Api::trigger`, whose browser clients JSON-decode every payload.
 * Encrypted channels always JSON-encode the plaintext (what pusher-js decrypts and parses).
 */
export type DataEncoding = 'auto' | 'always';

/** The client-side limits checked before a request is sent; same names as the server's per-app limits. */
export type SdkLimits = Pick<AppLimits, 'maxChannelNameLength' | 'maxEventNameLength' | 'maxEventPayloadBytes' | 'maxChannelsPerTrigger' | 'maxBatchSize'>;

export interface ApiOptions {
  /**
   * The app id used in `/apps/{appId}/...`. Herald routes a request to an app by this id (then by
   * `auth_key`). webman/push's PHP Api always sends `1024`.
   */
  appId: string | number;
  /** Whole-request deadline (connect, send, full response), in milliseconds. @default 10000 */
  timeoutMs?: number;
  /** Reuse TCP connections between requests (an `http.Agent` with keepAlive). @default true */
  keepAlive?: boolean;
  /** See {@link DataEncoding}. Can be overridden per trigger. @default 'auto' */
  encode?: DataEncoding;
  /**
   * 32-byte master key, standard base64: enables `shared_secret` in channel authorization and
   * end-to-end encryption when triggering on `private-encrypted-` channels. @default undefined
   */
  encryptionMasterKeyBase64?: string;
  /**
   * Checked before sending; set them to your server's per-app limits if it allows more.
   * @default { maxChannelNameLength: 200, maxEventNameLength: 200, maxEventPayloadBytes: 10240,
   *            maxChannelsPerTrigger: 100, maxBatchSize: 10 }
   */
  limits?: Partial<SdkLimits>;
}

/** Validated, frozen options. Credentials are not part of it: the Api keeps them in private fields. */
export interface ResolvedOptions {
  readonly url: URL;
  /** Path prefix of the base URL (e.g. `/push` behind a proxy), sent but not signed; '' when none. */
  readonly pathPrefix: string;
  readonly appId: string;
  readonly timeoutMs: number;
  readonly keepAlive: boolean;
  readonly encode: DataEncoding;
  readonly masterKey: Buffer | undefined;
  readonly limits: Readonly<SdkLimits>;
}

const DEFAULT_TIMEOUT_MS = 10_000;

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes a base64 master key; it must be canonical base64 of exactly 32 bytes. Never echoes the key. */
function parseMasterKey(b64: unknown): Buffer {
  if (typeof b64 !== 'string' || !BASE64_RE.test(b64)) throw invalidOptions('encryptionMasterKeyBase64 must be valid base64');
  const key = Buffer.from(b64, 'base64');
  if (key.length !== 32) throw invalidOptions(`encryptionMasterKeyBase64 must decode to 32 bytes, not ${key.length}`);
  return key;
}

function parseLimit(name: keyof SdkLimits, v: unknown): number {
  if (typeof v !== 'number' || !(v > 0) || (Number.isFinite(v) && !Number.isInteger(v))) {
    throw invalidOptions(`limits.${name} must be a positive integer (or Infinity to disable the check)`);
  }
  return v;
}

/** An http(s) origin, optionally with a path that is put in front of every request's path. */
export function parseBaseUrl(baseUrl: string): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw invalidOptions(`Invalid base URL: ${JSON.stringify(String(baseUrl).slice(0, 200))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidOptions(`Unsupported protocol ${url.protocol} (use http: or https:)`);
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw invalidOptions('The base URL must not carry a query, fragment or credentials');
  }
  return url;
}

/** A whole-request deadline in milliseconds; 10 s when not given. */
export function parseTimeout(given: unknown): number {
  const timeoutMs = given ?? DEFAULT_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw invalidOptions('timeoutMs must be a positive number of milliseconds');
  }
  return timeoutMs;
}

/** `/push` for `https://host/push/`; '' for an origin. */
export const pathPrefixOf = (url: URL) => url.pathname.replace(/\/+$/, '');

export function resolveOptions(baseUrl: string, key: string, secret: string, opts: ApiOptions): ResolvedOptions {
  const url = parseBaseUrl(baseUrl);
  if (typeof key !== 'string' || key.length === 0) throw invalidOptions('The app key must be a non-empty string');
  if (typeof secret !== 'string' || secret.length === 0) throw invalidOptions('The app secret must be a non-empty string');
  if (opts === null || typeof opts !== 'object') throw invalidOptions('Options with at least { appId } are required');
  const appId = typeof opts.appId === 'number' && Number.isFinite(opts.appId) ? String(opts.appId) : opts.appId;
  if (typeof appId !== 'string' || appId.length === 0) throw invalidOptions('appId must be a non-empty string or a number');
  const timeoutMs = parseTimeout(opts.timeoutMs);
  const encode = opts.encode ?? 'auto';
  if (encode !== 'auto' && encode !== 'always') throw invalidOptions(`encode must be 'auto' or 'always'`);
  const limits: SdkLimits = {
    maxChannelNameLength: DEFAULT_LIMITS.maxChannelNameLength,
    maxEventNameLength: DEFAULT_LIMITS.maxEventNameLength,
    maxEventPayloadBytes: DEFAULT_LIMITS.maxEventPayloadBytes,
    maxChannelsPerTrigger: DEFAULT_LIMITS.maxChannelsPerTrigger,
    maxBatchSize: DEFAULT_LIMITS.maxBatchSize,
  };
  for (const [name, v] of Object.entries(opts.limits ?? {})) {
    if (!(name in limits)) throw invalidOptions(`Unknown limit ${JSON.stringify(name)}`);
    if (v !== undefined) limits[name as keyof SdkLimits] = parseLimit(name as keyof SdkLimits, v);
  }
  return Object.freeze({
    url,
    pathPrefix: pathPrefixOf(url),
    appId,
    timeoutMs,
    keepAlive: opts.keepAlive ?? true,
    encode,
    masterKey: opts.encryptionMasterKeyBase64 === undefined ? undefined : parseMasterKey(opts.encryptionMasterKeyBase64),
    limits: Object.freeze(limits),
  });
}
