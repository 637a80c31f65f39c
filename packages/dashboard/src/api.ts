/**
 * The dashboard API's client (docs/reference/dashboard.md). The session is an HttpOnly cookie the
 * browser sends by itself; the CSRF value it came with is kept here, in memory only, and sent on
 * every request but a GET. The admin token is never kept: it is sent once, to sign in.
 */

export const API_BASE = '/dashboard/api';

/** A refusal of the API, with the text of its `error` for the page to show. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
    readonly fields: { field: string; message: string }[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let csrf: string | null = null;
let unauthorized: () => void = () => {};

export function setCsrf(value: string | null): void {
  csrf = value;
}

/** What to do when a request answers 401: the session ended (expired, token changed, signed out elsewhere). */
export function onUnauthorized(handler: () => void): void {
  unauthorized = handler;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** Sign-in and the session check answer 401 as a normal outcome: not a reason to leave the page. */
  quiet401?: boolean;
}

export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrf !== null) headers['X-Herald-CSRF'] = csrf;
  let res: Response;
  try {
    res = await fetch(API_BASE + path, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
  } catch {
    throw new ApiError(0, 'The server could not be reached.');
  }
  const text = await res.text();
  let json: unknown = undefined;
  if (text !== '') {
    try {
      json = JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page): the status says enough.
    }
  }
  if (!res.ok) {
    if (res.status === 401 && !opts.quiet401) unauthorized();
    const body = (json ?? {}) as { error?: unknown; code?: unknown; error_code?: unknown; fields?: unknown };
    const message = typeof body.error === 'string' && body.error !== '' ? body.error : `${res.status} ${res.statusText || 'error'}`;
    const code = typeof body.error_code === 'string' ? body.error_code : typeof body.code === 'string' ? body.code : undefined;
    const fields = Array.isArray(body.fields) ? (body.fields as { field: string; message: string }[]) : [];
    throw new ApiError(res.status, message, code, fields);
  }
  return json as T;
}

/** The text to show for any failure. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    const fields = err.fields.map((f) => `${f.field}: ${f.message}`).join('; ');
    return fields ? `${err.message} (${fields})` : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

/** A path segment: app ids are safe already, channel names may hold anything but are URL-encoded. */
export const seg = (s: string) => encodeURIComponent(s);
