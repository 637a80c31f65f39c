import { request } from 'node:http';
import { signApiRequest } from '@herald/protocol';

export interface Creds {
  id: string;
  key: string;
  secret: string;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * One HTTP request with node:http (no fetch normalisation): the method, path, query and headers
 * are sent exactly as given, so fuzzers can send what no SDK would.
 */
export function rawRequest(
  port: number,
  opts: { method: string; path: string; headers?: Record<string, string>; body?: string | Buffer; timeoutMs?: number },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: opts.method, path: opts.path, headers: opts.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`${opts.method} ${opts.path.slice(0, 100)}: no answer in time`)));
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

/** A request signed exactly as the official SDKs sign it; `mutate` may alter the query afterwards. */
export function signedRequest(
  port: number,
  app: Creds,
  opts: {
    method: 'GET' | 'POST';
    path: string;
    params?: Record<string, string>;
    body?: string;
    timestamp?: number;
    /** Alters the signed query string before sending (for tampering tests). */
    mutateQuery?: (q: string) => string;
  },
): Promise<RawResponse> {
  let q = signApiRequest({
    key: app.key,
    secret: app.secret,
    method: opts.method,
    path: opts.path,
    ...(opts.body !== undefined ? { body: opts.body } : {}),
    ...(opts.params ? { params: opts.params } : {}),
    ...(opts.timestamp !== undefined ? { timestamp: opts.timestamp } : {}),
  });
  if (opts.mutateQuery) q = opts.mutateQuery(q);
  return rawRequest(port, {
    method: opts.method,
    path: `${opts.path}?${q}`,
    headers: opts.body !== undefined ? { 'content-type': 'application/json' } : {},
    ...(opts.body !== undefined ? { body: opts.body } : {}),
  });
}

/** Channel info via a signed GET (for count convergence checks on any node). */
export async function channelsInfo(port: number, app: Creds, params: Record<string, string> = { info: 'subscription_count' }): Promise<unknown> {
  const r = await signedRequest(port, app, { method: 'GET', path: `/apps/${app.id}/channels`, params });
  return JSON.parse(r.body);
}

export async function presenceUsers(port: number, app: Creds, channel: string): Promise<string[]> {
  const r = await signedRequest(port, app, { method: 'GET', path: `/apps/${app.id}/channels/${channel}/users` });
  return ((JSON.parse(r.body) as { users: { id: string }[] }).users ?? []).map((u) => u.id).sort();
}

/** Only for holding a fault window open (never to wait for a result: use expect.poll). */
export const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
