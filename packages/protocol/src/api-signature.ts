import { hmacSha256Hex, md5Hex, safeEqual, signedByApp, type SigningCredentials } from './signature.js';

/** Allowed clock skew for `auth_timestamp` (docs/reference/rest-api.md#request-signing). */
export const API_TIMESTAMP_WINDOW_S = 600;

/**
 * Splits a raw query string into percent-decoded pairs. Keys are lower-cased; a repeated key
 * (`k[]=a&k[]=b`) has its values joined with `,` (what pusher-http-php signs). `+` is literal.
 */
export function parseQueryString(raw: string): Map<string, string> {
  const out = new Map<string, string>();
  if (raw.startsWith('?')) raw = raw.slice(1);
  if (raw === '') return out;
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = safeDecode(eq === -1 ? part : part.slice(0, eq)).toLowerCase();
    const v = eq === -1 ? '' : safeDecode(part.slice(eq + 1));
    const prev = out.get(k);
    out.set(k, prev === undefined ? v : `${prev},${v}`);
  }
  return out;
}

function safeDecode(s: string): string {
  // Most parameters (keys, timestamps, hex digests) have nothing to decode.
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** `<METHOD>\n<PATH>\n<sorted k=v&...>` over every param except auth_signature, not URL-escaped. */
export function apiStringToSign(method: string, path: string, params: ReadonlyMap<string, string>): string {
  const keys = [...params.keys()].filter((k) => k !== 'auth_signature').sort();
  const query = keys.map((k) => `${k}=${params.get(k)}`).join('&');
  return `${method.toUpperCase()}\n${path}\n${query}`;
}

/** Builds a signed query string the way the official SDKs do (used by tests, benches and the SDK). */
export function signApiRequest(opts: {
  key: string;
  secret: string;
  method: string;
  path: string;
  body?: string;
  params?: Record<string, string>;
  timestamp?: number;
}): string {
  const params = new Map<string, string>(Object.entries(opts.params ?? {}));
  params.set('auth_key', opts.key);
  params.set('auth_timestamp', String(opts.timestamp ?? Math.floor(Date.now() / 1000)));
  params.set('auth_version', '1.0');
  if (opts.body !== undefined && opts.body !== '') params.set('body_md5', md5Hex(opts.body));
  const signature = hmacSha256Hex(opts.secret, apiStringToSign(opts.method, opts.path, params));
  const keys = [...params.keys()].sort();
  return [...keys.map((k) => `${k}=${encodeURIComponent(params.get(k)!)}`), `auth_signature=${signature}`].join('&');
}

export type ApiAuthResult = { ok: true } | { ok: false; status: 400 | 401; message: string };

/**
 * Verifies a signed REST request (docs/reference/rest-api.md#request-signing). `paths` are the candidate signed paths in
 * order (as received, then percent-decoded): the request passes if any verifies.
 * `auth_version` may be absent (webman/push's PHP Api does not send it); if present it must be 1.0.
 */
export function verifyApiRequest(req: {
  app: SigningCredentials;
  method: string;
  paths: readonly string[];
  params: ReadonlyMap<string, string>;
  rawBody: Buffer | undefined;
  nowMs?: number;
}): ApiAuthResult {
  const { params } = req;
  const key = params.get('auth_key');
  const ts = params.get('auth_timestamp');
  const sig = params.get('auth_signature');
  if (key === undefined || ts === undefined || sig === undefined) {
    return { ok: false, status: 401, message: 'Missing auth params: auth_key, auth_timestamp and auth_signature are required' };
  }
  if (!safeEqual(key, req.app.key)) return { ok: false, status: 400, message: 'Unknown auth_key' };
  const version = params.get('auth_version');
  if (version !== undefined && version !== '1.0') {
    return { ok: false, status: 401, message: `Unsupported auth_version: ${version.slice(0, 16)}` };
  }
  const now = req.nowMs ?? Date.now();
  const tsNum = Number(ts);
  if (!/^\d{1,12}$/.test(ts) || Math.abs(now / 1000 - tsNum) > API_TIMESTAMP_WINDOW_S) {
    const given = /^\d{1,12}$/.test(ts) ? new Date(tsNum * 1000).toISOString() : ts.slice(0, 32);
    return {
      ok: false,
      status: 401,
      message: `Timestamp expired: Given timestamp (${given}) not within ${API_TIMESTAMP_WINDOW_S}s of server time (${new Date(now).toISOString()})`,
    };
  }
  const body = req.rawBody;
  const bodyMd5 = params.get('body_md5');
  if (body !== undefined && body.length > 0) {
    if (bodyMd5 === undefined) return { ok: false, status: 401, message: 'Missing body_md5 for a request with a body' };
    if (!safeEqual(bodyMd5, md5Hex(body))) return { ok: false, status: 401, message: 'Invalid body_md5' };
  } else if (bodyMd5 !== undefined && !safeEqual(bodyMd5, md5Hex(''))) {
    return { ok: false, status: 401, message: 'Invalid body_md5' };
  }
  let first = '';
  for (const path of req.paths) {
    const toSign = apiStringToSign(req.method, path, params);
    if (signedByApp(req.app, toSign, sig, now)) return { ok: true };
    if (first === '') first = toSign;
  }
  return {
    ok: false,
    status: 401,
    message: `Invalid signature: you should have sent HmacSHA256Hex(${JSON.stringify(first)}, your_secret_key), but you sent "${sig.slice(0, 80)}"`,
  };
}
