import type { Socket } from 'node:net';
import { isPresenceChannel, isValidChannelName, channelKind, USER_CHANNEL_PREFIX } from '@herald/protocol';
import type { App } from '@herald/config';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { appRoutes } from '../admin.js';
import type { ApiContext } from '../context.js';
import { apiError, apiErrorBody } from '../errors.js';
import { triggerEvents } from '../events.js';
import { parseJsonBody } from '../signature-check.js';
import { openDebugStream } from './debug-stream.js';
import { isAdminToken, readCookie, SESSION_COOKIE, sessionCookie, SessionSigner, type Session } from './session.js';
import { staticRoutes } from './static.js';

const API = '/dashboard/api';

declare module 'fastify' {
  interface FastifyRequest {
    /** The dashboard session a /dashboard/api request was made in; set by the session check. */
    heraldSession: Session | null;
  }
}

/** `?limit=` of a list: an integer from 1 to max, `fallback` when absent. */
function limitOf(req: FastifyRequest, fallback: number, max: number): number {
  const raw = (req.query as Record<string, unknown>).limit;
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(n) || n < 1 || n > max) throw apiError('InvalidParameter', `limit must be an integer from 1 to ${max}`);
  return n;
}

/** `{"ids": ["..."]}`: the dead letters a replay or a delete acts on. */
function idsOf(req: FastifyRequest): string[] {
  const body = parseJsonBody(req.body instanceof Buffer ? req.body : undefined);
  const ids = body.ids;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > 10_000 || !ids.every((id) => typeof id === 'string' && id.length > 0 && id.length <= 200)) {
    throw apiError('InvalidParameter', 'ids must be an array of 1 to 10000 dead-letter ids');
  }
  return ids as string[];
}

/** Whether the request came over HTTPS to the balancer in front (the cookie is then Secure). */
const overHttps = (req: FastifyRequest) => req.protocol === 'https' || req.headers['x-forwarded-proto'] === 'https';

/**
 * /dashboard (docs/reference/dashboard.md): the pages, and their API behind a signed session. Exists
 * only with PUSH_ADMIN_TOKEN; every answer of the API is `no-store`.
 */
export const dashboardRoutes: FastifyPluginAsync<ApiContext> = async (f, ctx) => {
  const d = ctx.dashboard;
  const a = ctx.admin;
  if (d === undefined || a === undefined) return;
  const signer = new SessionSigner(a.token, d.sessionSeconds);
  staticRoutes(f, d.files);

  f.decorateRequest('heraldSession', null);
  f.addHook('onRequest', async (req, reply) => {
    if (!req.url.startsWith(`${API}/`)) return;
    void reply.header('cache-control', 'no-store');
    if (req.url === `${API}/session` || req.url.startsWith(`${API}/session?`)) return;
    const session = signer.verify(readCookie(req.headers.cookie, SESSION_COOKIE));
    if (session === undefined) throw apiError('DashboardSignedOut');
    if (req.method !== 'GET' && req.method !== 'HEAD' && !signer.csrfMatches(session, header(req, 'x-herald-csrf'))) throw apiError('DashboardCsrf');
    req.heraldSession = session;
  });

  f.post(`${API}/session`, async (req, reply) => {
    const body = parseJsonBody(req.body instanceof Buffer ? req.body : undefined);
    if (!isAdminToken(body.token, a.token)) throw apiError('AdminUnauthorized');
    const session = signer.issue();
    void reply.header('set-cookie', sessionCookie(session.value, d.sessionSeconds, overHttps(req)));
    return { csrf: session.csrf, expiresAt: session.expiresAt };
  });
  f.get(`${API}/session`, async (req) => {
    const session = signer.verify(readCookie(req.headers.cookie, SESSION_COOKIE));
    if (session === undefined) throw apiError('DashboardSignedOut');
    return { csrf: session.csrf, expiresAt: session.expiresAt };
  });
  f.delete(`${API}/session`, async (req, reply) => {
    void reply.header('set-cookie', sessionCookie('', 0, overHttps(req)));
    return {};
  });

  f.get(`${API}/overview`, async () => ({ mode: d.mode, now: Date.now(), nodes: await d.nodes.list(), apps: ctx.apps.size }));

  appRoutes(f, { base: API, admin: a.admin, actor: (req) => `dashboard ${req.ip}`, secretOnDemand: true });

  channelRoutes(f, ctx);

  f.post(`${API}/apps/:id/events`, async (req) => {
    const body = parseJsonBody(req.body instanceof Buffer ? req.body : undefined);
    // The REST trigger's own checks and limits; only `channels`, `name` and `data` are taken.
    const { channels, name, data } = body;
    await triggerEvents(ctx, appOf(ctx, req), { channels, name, data });
    return {};
  });

  f.get(`${API}/apps/:id/webhooks/deliveries`, async (req) => ({ deliveries: await d.webhookLog.deliveries(appOf(ctx, req).id, limitOf(req, 100, 200)) }));
  f.get(`${API}/apps/:id/webhooks/dead-letters`, async (req) => ({ deadLetters: await d.webhookLog.deadLetters(appOf(ctx, req).id, limitOf(req, 100, 1000)) }));
  f.post(`${API}/apps/:id/webhooks/dead-letters/replay`, async (req, reply: FastifyReply) => {
    const { replayed, refused } = await d.webhookLog.replay(appOf(ctx, req).id, idsOf(req));
    if (refused === 0) return { replayed };
    const err = apiError('WebhookOutboxFull', refused);
    return reply
      .code(err.statusCode)
      .header('retry-after', '10')
      .send({ ...apiErrorBody(err), replayed });
  });
  f.post(`${API}/apps/:id/webhooks/dead-letters/delete`, async (req) => ({ deleted: await d.webhookLog.drop(appOf(ctx, req).id, idsOf(req)) }));

  // Each open stream's socket: streams never end on their own, and the server's close would wait for them.
  const streams = new Map<() => void, Socket>();
  f.get(`${API}/apps/:id/debug`, (req, reply) => {
    const app = appOf(ctx, req);
    reply.hijack();
    const end = openDebugStream(reply.raw, { feed: d.debug, appId: app.id, node: d.nodeId });
    streams.set(end, req.raw.socket);
    // The browser went away: Node keeps a half-closed socket open for a response it considers
    // gone, so the stream's end alone would leave it there for good.
    reply.raw.on('close', () => {
      streams.delete(end);
      end();
      req.raw.socket.destroy();
    });
  });
  f.addHook('preClose', (done) => {
    for (const [end, socket] of streams) {
      end();
      socket.destroy();
    }
    streams.clear();
    done();
  });
};

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** The app of `:id`; 404 for an unknown one. */
function appOf(ctx: ApiContext, req: FastifyRequest): App {
  const id = (req.params as { id: string }).id;
  const app = ctx.apps.byId(id);
  if (app === undefined) throw apiError('AppNotFound', id);
  return app;
}

interface ChannelSummary {
  name: string;
  subscriptionCount: number;
  userCount?: number;
}

/** The channels page: what the REST API's channel routes tell, in one answer per view. */
function channelRoutes(f: FastifyInstance, ctx: ApiContext): void {
  f.get(`${API}/apps/:id/channels`, async (req) => {
    const app = appOf(ctx, req);
    const raw = (req.query as Record<string, unknown>).prefix;
    if (raw !== undefined && (typeof raw !== 'string' || raw.length > 200))
      throw apiError('InvalidParameter', 'prefix must be a string of at most 200 characters');
    const limit = limitOf(req, 100, 1000);
    const occupied = await ctx.state.channels.channels(app.id, raw === '' ? undefined : raw);
    const names = [...occupied.keys()].filter((n) => !n.startsWith(USER_CHANNEL_PREFIX)).sort();
    const channels = await Promise.all(
      names.slice(0, limit).map(async (name) => {
        const entry: ChannelSummary = { name, subscriptionCount: occupied.get(name) ?? 0 };
        if (isPresenceChannel(name)) entry.userCount = await ctx.state.presence.userCount(app.id, name);
        return entry;
      }),
    );
    return { channels, truncated: names.length > limit };
  });

  f.get(`${API}/apps/:id/channels/:name`, async (req) => {
    const app = appOf(ctx, req);
    const name = (req.params as { name: string }).name;
    if (!isValidChannelName(name)) throw apiError('InvalidParameter', `Invalid channel name: ${JSON.stringify(String(name).slice(0, 210))}`);
    const count = await ctx.state.channels.count(app.id, name);
    const out: ChannelSummary & { occupied: boolean; members?: { id: string; info: unknown }[]; cached?: { event: string; data: string } } = {
      name,
      occupied: count > 0,
      subscriptionCount: count,
    };
    if (isPresenceChannel(name)) {
      const members = await ctx.state.presence.members(app.id, name);
      out.userCount = members.length;
      out.members = members.slice(0, 1000).map((m) => ({ id: m.userId, info: m.userInfo ?? null }));
    }
    if (channelKind(name).cache) {
      const cached = await ctx.state.cache.get(app.id, name);
      if (cached !== undefined) out.cached = { event: cached.event, data: cached.data };
    }
    return out;
  });
}
