import { AppExistsError, AppNotFoundError, AppValidationError, AppVersionConflictError, ReadOnlyStoreError, StoreUnavailableError } from '@herald/apps';
import { createAdminAuth } from '@herald/config';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { AppAdmin } from '@herald/apps';
import type { ApiContext } from './context.js';
import { apiError, apiErrorBody, type ApiError } from './errors.js';
import { parseJsonBody } from './signature-check.js';

/** The store's and the rules' refusals as the registry's errors; anything else is left to the error handler (500). */
function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof AppValidationError) return apiError('InvalidApp', err.message);
  if (err instanceof AppNotFoundError) return apiError('AppNotFound', err.id);
  if (err instanceof AppExistsError) return apiError('AppExists', `An app with ${err.field} ${err.value} exists`);
  if (err instanceof AppVersionConflictError)
    return apiError('AppVersionConflict', `App ${err.id} is at version ${err.actual}, not ${err.expected}: read it again`);
  if (err instanceof ReadOnlyStoreError) return apiError('StoreReadOnly', err.message);
  if (err instanceof StoreUnavailableError) return apiError('StoreUnavailable');
  return undefined;
}

/** `If-Match: "3"` (or `3`, or a weak `W/"3"`): the version the change is made against. */
function ifMatch(req: FastifyRequest): number | undefined {
  const h = req.headers['if-match'];
  if (h === undefined) return undefined;
  const m = /^(?:W\/)?"?(\d{1,15})"?$/.exec(h.trim());
  if (m === null) throw apiError('InvalidParameter', 'If-Match must be a version: "<n>"');
  return Number(m[1]);
}

/** How a mount of the app routes differs: where, who is acting, and whether reads carry the secret. */
export interface AppRoutesMount {
  base: string;
  admin: AppAdmin;
  /** The audit list's actor of a change. */
  actor: (req: FastifyRequest) => string;
  /** Reads leave `secret` out (a page asks for it on demand, at `${base}/apps/:id/secret`). */
  secretOnDemand: boolean;
}

/**
 * The apps and the audit list under `base`: the admin API's routes (docs/reference/admin-api.md),
 * mounted under /admin/v1 for the bearer token and under /dashboard/api for a dashboard session.
 * Authentication is the caller's hook.
 */
export function appRoutes(f: FastifyInstance, m: AppRoutesMount): void {
  const { admin, actor, base } = m;
  const answer = async (reply: FastifyReply, run: () => Promise<{ status: number; body?: unknown; version?: number }>) => {
    try {
      const r = await run();
      if (r.version !== undefined) void reply.header('etag', `"${r.version}"`);
      return await reply.code(r.status).send(r.body);
    } catch (err) {
      const e = toApiError(err);
      if (e === undefined) throw err;
      const fields = err instanceof AppValidationError ? { fields: err.issues } : {};
      return reply.code(e.statusCode).send({ ...apiErrorBody(e), ...fields });
    }
  };
  const body = (req: FastifyRequest) => parseJsonBody(req.body instanceof Buffer ? req.body : undefined);
  const id = (req: FastifyRequest) => (req.params as { id: string }).id;
  const shown = <T extends { secret?: string }>(app: T): T => {
    if (!m.secretOnDemand) return app;
    const { secret: _secret, ...rest } = app;
    return rest as T;
  };

  f.get(`${base}/apps`, (_req, reply) => answer(reply, async () => ({ status: 200, body: { apps: await admin.list(), store: admin.storeInfo } })));
  f.post(`${base}/apps`, (req, reply) =>
    answer(reply, async () => {
      const app = await admin.create(body(req), actor(req));
      return { status: 201, body: app, version: app.version };
    }),
  );
  f.get(`${base}/apps/:id`, (req, reply) =>
    answer(reply, async () => {
      const app = await admin.get(id(req));
      return { status: 200, body: shown(app), version: app.version };
    }),
  );
  if (m.secretOnDemand) {
    f.get(`${base}/apps/:id/secret`, (req, reply) =>
      answer(reply, async () => {
        const app = await admin.get(id(req));
        return { status: 200, body: { secret: app.secret } };
      }),
    );
  }
  f.patch(`${base}/apps/:id`, (req, reply) =>
    answer(reply, async () => {
      const app = await admin.update(id(req), body(req), ifMatch(req), actor(req));
      return { status: 200, body: shown(app), version: app.version };
    }),
  );
  f.delete(`${base}/apps/:id`, (req, reply) =>
    answer(reply, async () => {
      await admin.delete(id(req), ifMatch(req), actor(req));
      return { status: 204 };
    }),
  );
  f.post(`${base}/apps/:id/rotate-secret`, (req, reply) =>
    answer(reply, async () => {
      const raw = req.body instanceof Buffer && req.body.length > 0 ? body(req) : {};
      const app = await admin.rotateSecret(id(req), raw, ifMatch(req), actor(req));
      return { status: 200, body: app, version: app.version };
    }),
  );
  f.get(`${base}/audit`, (req, reply) =>
    answer(reply, async () => {
      const q = req.query as { limit?: string; before?: string };
      const limit = q.limit === undefined ? 100 : Number(q.limit);
      const before = q.before === undefined ? undefined : Number(q.before);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw apiError('InvalidParameter', 'limit must be an integer from 1 to 1000');
      if (before !== undefined && (!Number.isInteger(before) || before < 1)) throw apiError('InvalidParameter', 'before must be a positive integer');
      return { status: 200, body: { entries: await admin.audit(limit, before) } };
    }),
  );
}

/**
 * /admin/v1: apps and the audit list (docs/reference/admin-api.md). Without PUSH_ADMIN_TOKEN none of
 * it exists (404 like any unknown route); with it, every request needs the bearer token (401).
 */
export const adminRoutes: FastifyPluginAsync<ApiContext> = async (f, ctx) => {
  const a = ctx.admin;
  if (a === undefined) return;
  const check = createAdminAuth(a.token);
  f.addHook('onRequest', async (req) => {
    if (!req.url.startsWith('/admin/')) return;
    if (check(req.headers.authorization) !== 'ok') throw apiError('AdminUnauthorized');
  });
  // The client's address: who made a change, for the audit list.
  appRoutes(f, { base: '/admin/v1', admin: a.admin, actor: (req) => req.ip, secretOnDemand: false });
};
