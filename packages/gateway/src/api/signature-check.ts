import { parseQueryString, verifyApiRequest } from '@herald/protocol';
import type { FastifyRequest } from 'fastify';
import type { AppRegistry } from '@herald/config';
import type { ApiContext } from './context.js';
import { ApiError, ApiErrorCode } from './errors.js';

/**
 * Finds the app of a REST request and verifies its signature (spec/http-api.md §2.3). The app is
 * found by the path's app id, or else by `auth_key` (webman/push's PHP Api always signs
 * `/apps/1024/...`; pusher-http-python's terminate path has no app id at all). Either way the
 * signature must verify with that app's secret.
 */
export function checkSignature(req: FastifyRequest, apps: AppRegistry): void {
  const raw = req.raw.url ?? '/';
  const q = raw.indexOf('?');
  const path = q === -1 ? raw : raw.slice(0, q);
  const params = parseQueryString(q === -1 ? '' : raw.slice(q + 1));
  const appId = (req.params as { appId?: string }).appId;
  const authKey = params.get('auth_key');
  const app = (appId !== undefined ? apps.byId(appId) : undefined) ?? (authKey !== undefined ? apps.byKey(authKey) : undefined);
  if (app === undefined) {
    if (appId !== undefined && authKey === undefined) throw new ApiError(404, ApiErrorCode.UnknownApp, 'Unknown app');
    throw new ApiError(authKey === undefined ? 401 : 400, authKey === undefined ? ApiErrorCode.InvalidSignature : ApiErrorCode.UnknownAuthKey, authKey === undefined ? 'Missing auth params' : 'Unknown auth_key');
  }
  const paths = [path];
  if (path.includes('%')) {
    try {
      paths.push(decodeURIComponent(path));
    } catch {
      /* malformed escape: only the raw path can verify */
    }
  }
  const body = req.body instanceof Buffer ? req.body : undefined;
  const result = verifyApiRequest({ app, method: req.method, paths, params, rawBody: body });
  if (!result.ok) {
    throw new ApiError(result.status, result.status === 400 ? ApiErrorCode.UnknownAuthKey : ApiErrorCode.InvalidSignature, result.message);
  }
  if (!app.enabled) throw new ApiError(403, ApiErrorCode.AppDisabled, 'Application disabled');
  req.heraldApp = app;
  req.heraldParams = params;
}

/** Signature check, then the app's cluster-wide API rate limit (429 beyond). */
export async function authorizeRequest(req: FastifyRequest, ctx: ApiContext): Promise<void> {
  checkSignature(req, ctx.apps);
  const limit = req.heraldApp.limits.maxApiRequestsPerSecond;
  if (limit > 0 && !(await ctx.state.usage.hitApi(req.heraldApp.id, limit))) {
    ctx.metrics.apiRateLimited.inc();
    throw new ApiError(429, ApiErrorCode.RateLimited, `Too many requests: at most ${limit} per second for this app`);
  }
}

/** Parses the raw JSON body (the signature was checked over its exact bytes first). */
export function jsonBody(req: FastifyRequest): Record<string, unknown> {
  const body = req.body instanceof Buffer ? req.body : Buffer.alloc(0);
  if (body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ApiError(400, ApiErrorCode.InvalidJson, 'Invalid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ApiError(400, ApiErrorCode.InvalidJson, 'Invalid JSON: the body must be an object');
  }
  return parsed as Record<string, unknown>;
}
