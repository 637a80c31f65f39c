import { FIXED_FIELDS, SERVER_FIELDS, type AppPatch, type AuditOptions, type NewApp, type RotateSecretOptions } from './admin-types.js';
import { invalidArgument } from './errors.js';
import type { PreparedRequest } from './requests.js';

/** What the admin request builders need; the token goes only into the `authorization` header. */
export interface AdminContext {
  /** Path of the base URL (`/push` behind a proxy), put in front of `/admin/v1/...`; '' when none. */
  readonly pathPrefix: string;
  readonly token: string;
}

const ROOT = '/admin/v1';

/** The apps file's rule for ids; checked here because the id becomes a path segment. */
const APP_ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/** The admin API's bound for `graceSeconds` (one week). */
const MAX_GRACE_SECONDS = 604_800;

/** Printable excerpt of a refused value for an error message. */
const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v.slice(0, 70)) : typeof v);

const isPositiveInteger = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;

function assertAppId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !APP_ID_RE.test(id)) throw invalidArgument(`Invalid app id ${show(id)}: 1 to 64 of A-Z a-z 0-9 _ . -`);
}

function ifMatchHeader(ifMatch: unknown): Record<string, string> {
  if (ifMatch === undefined) return {};
  if (!isPositiveInteger(ifMatch)) throw invalidArgument(`ifMatch must be an app version (a positive integer), not ${show(ifMatch)}`);
  // The ETag the server sends is the quoted version; If-Match compares entity tags, quotes included.
  return { 'if-match': `"${ifMatch}"` };
}

/**
 * The document of a creation or a change must be a plain object without the fields the server
 * computes (`version`, `createdAt`...). Its fields' values are the server's to judge: it names every
 * bad one in `fields`, by the same rules as the apps file.
 */
function assertDocument(doc: unknown, what: string, refused: readonly string[]): asserts doc is Record<string, unknown> {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw invalidArgument(`${what} must be an object`);
  const bad = Object.keys(doc).filter((k) => refused.includes(k));
  if (bad.length > 0) throw invalidArgument(`${what} cannot set ${bad.join(', ')}`);
}

function prepare(
  ctx: AdminContext,
  method: PreparedRequest['method'],
  path: string,
  opts: { body?: unknown; headers?: Record<string, string>; query?: Record<string, string> } = {},
): PreparedRequest {
  const query = opts.query && Object.keys(opts.query).length > 0 ? `?${new URLSearchParams(opts.query).toString()}` : '';
  return {
    method,
    signedPath: path,
    target: `${ctx.pathPrefix}${path}${query}`,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    headers: { authorization: `Bearer ${ctx.token}`, ...opts.headers },
  };
}

const appPath = (id: string) => `${ROOT}/apps/${encodeURIComponent(id)}`;

/** GET /admin/v1/apps */
export const prepareListApps = (ctx: AdminContext) => prepare(ctx, 'GET', `${ROOT}/apps`);

/** POST /admin/v1/apps with the given fields (`{}`: everything generated or defaulted). */
export function prepareCreateApp(ctx: AdminContext, fields: NewApp = {}): PreparedRequest {
  assertDocument(fields, 'A new app', SERVER_FIELDS);
  return prepare(ctx, 'POST', `${ROOT}/apps`, { body: fields });
}

/** GET /admin/v1/apps/{id} */
export function prepareGetApp(ctx: AdminContext, id: string): PreparedRequest {
  assertAppId(id);
  return prepare(ctx, 'GET', appPath(id));
}

/** PATCH /admin/v1/apps/{id}, conditional on `ifMatch` when given. */
export function prepareUpdateApp(ctx: AdminContext, id: string, patch: AppPatch, ifMatch?: number): PreparedRequest {
  assertAppId(id);
  assertDocument(patch, 'A change', [...FIXED_FIELDS, ...SERVER_FIELDS]);
  if (Object.keys(patch).length === 0) throw invalidArgument('A change needs at least one field');
  return prepare(ctx, 'PATCH', appPath(id), { body: patch, headers: ifMatchHeader(ifMatch) });
}

/** DELETE /admin/v1/apps/{id}, conditional on `ifMatch` when given. */
export function prepareDeleteApp(ctx: AdminContext, id: string, ifMatch?: number): PreparedRequest {
  assertAppId(id);
  return prepare(ctx, 'DELETE', appPath(id), { headers: ifMatchHeader(ifMatch) });
}

/** POST /admin/v1/apps/{id}/rotate-secret with `{graceSeconds?, secret?}`. */
export function prepareRotateSecret(ctx: AdminContext, id: string, opts: RotateSecretOptions = {}): PreparedRequest {
  assertAppId(id);
  const { graceSeconds, secret, ifMatch } = opts;
  if (graceSeconds !== undefined && !(Number.isSafeInteger(graceSeconds) && graceSeconds >= 0 && graceSeconds <= MAX_GRACE_SECONDS)) {
    throw invalidArgument(`graceSeconds must be an integer from 0 to ${MAX_GRACE_SECONDS}, not ${show(graceSeconds)}`);
  }
  // Never echoed: a refused secret may still be a real one, mistyped.
  if (secret !== undefined && (typeof secret !== 'string' || secret.length === 0)) throw invalidArgument('secret must be a non-empty string');
  const body = { ...(graceSeconds !== undefined ? { graceSeconds } : {}), ...(secret !== undefined ? { secret } : {}) };
  return prepare(ctx, 'POST', `${appPath(id)}/rotate-secret`, { body, headers: ifMatchHeader(ifMatch) });
}

/** GET /admin/v1/audit?limit=&before= */
export function prepareAudit(ctx: AdminContext, opts: AuditOptions = {}): PreparedRequest {
  const query: Record<string, string> = {};
  for (const name of ['limit', 'before'] as const) {
    const v = opts[name];
    if (v === undefined) continue;
    if (!isPositiveInteger(v)) throw invalidArgument(`${name} must be a positive integer, not ${show(v)}`);
    query[name] = String(v);
  }
  return prepare(ctx, 'GET', `${ROOT}/audit`, { query });
}
