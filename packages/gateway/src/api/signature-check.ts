import { parseQueryString, verifyApiRequest } from '@herald/protocol';
import type { FastifyRequest } from 'fastify';
import type { App, AppRegistry } from '@herald/config';
import type { ApiContext } from './context.js';
import { apiError } from './errors.js';

/** What the signature check reads of a request: fastify's request and the trigger fast path both give it. */
export interface SignedRequest {
  method: string;
  /** The raw request target: path and query as received. */
  url: string;
  /** The path's app id, when the route has one. */
  appId: string | undefined;
  /** The raw body; undefined when there is none. */
  body: Buffer | undefined;
}

/** A request whose signature verified: its app, and its query as the check read it. */
export interface Authorized {
  app: App;
  params: ReadonlyMap<string, string>;
}

/**
 * Finds the app of a REST request and verifies its signature (docs/reference/rest-api.md#request-signing). The app is
 * found by the path's app id, or else by `auth_key` (webman/push's PHP Api always signs
 * `/apps/1024/...`; pusher-http-python's terminate path has no app id at all). Either way the
 * signature must verify with that app's secret. Throws the ApiError to answer.
 */
function checkSignature(r: SignedRequest, apps: AppRegistry): Authorized {
  const raw = r.url;
  const q = raw.indexOf('?');
  const path = q === -1 ? raw : raw.slice(0, q);
  const params = parseQueryString(q === -1 ? '' : raw.slice(q + 1));
  const { appId } = r;
  const authKey = params.get('auth_key');
  const app = (appId !== undefined ? apps.byId(appId) : undefined) ?? (authKey !== undefined ? apps.byKey(authKey) : undefined);
  if (app === undefined) {
    if (appId !== undefined && authKey === undefined) throw apiError('UnknownApp');
    throw authKey === undefined ? apiError('InvalidSignature', 'Missing auth params') : apiError('UnknownAuthKey');
  }
  const paths = [path];
  if (path.includes('%')) {
    try {
      paths.push(decodeURIComponent(path));
    } catch {
      /* malformed escape: only the raw path can verify */
    }
  }
  const result = verifyApiRequest({ app, method: r.method, paths, params, rawBody: r.body });
  if (!result.ok) {
    throw result.status === 400 ? apiError('UnknownAuthKey', result.message) : apiError('InvalidSignature', result.message);
  }
  if (!app.enabled) throw apiError('AppDisabled');
  return { app, params };
}

/** Signature check, then the app's cluster-wide API rate limit (429 beyond). */
export async function authorize(r: SignedRequest, ctx: ApiContext): Promise<Authorized> {
  const a = checkSignature(r, ctx.apps);
  const limit = a.app.limits.maxApiRequestsPerSecond;
  if (limit > 0 && !(await ctx.state.usage.hitApi(a.app.id, limit))) {
    ctx.metrics.apiRateLimited.inc();
    throw apiError('RateLimited', limit);
  }
  return a;
}

const bodyOf = (req: FastifyRequest) => (req.body instanceof Buffer ? req.body : undefined);

/** `authorize` for a fastify route: the app and query are kept on the request. */
export async function authorizeRequest(req: FastifyRequest, ctx: ApiContext): Promise<void> {
  const { app, params } = await authorize(
    { method: req.method, url: req.raw.url ?? '/', appId: (req.params as { appId?: string }).appId, body: bodyOf(req) },
    ctx,
  );
  req.heraldApp = app;
  req.heraldParams = params;
}

/** Parses the raw JSON body (the signature was checked over its exact bytes first). */
export function parseJsonBody(body: Buffer | undefined): Record<string, unknown> {
  if (body === undefined || body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw apiError('InvalidJson');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw apiError('InvalidJson', 'the body must be an object');
  }
  return parsed as Record<string, unknown>;
}

export const jsonBody = (req: FastifyRequest) => parseJsonBody(bodyOf(req));
