import { USER_CHANNEL_PREFIX, channelKind, isPresenceChannel, isValidChannelName } from '@herald/protocol';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ApiContext } from './context.js';
import { apiError } from './errors.js';
import { authorizeRequest } from './signature-check.js';

// Parameters are read as the signature check read them, never through another parser.
const infoOf = (req: FastifyRequest) =>
  new Set(
    (req.heraldParams.get('info') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

const channelParam = (req: FastifyRequest) => {
  const name: string = (req.params as { channelName: string }).channelName;
  if (!isValidChannelName(name)) throw apiError('InvalidParameter', `Invalid channel name: ${JSON.stringify(String(name).slice(0, 210))}`);
  return name;
};

/** GET /apps/:appId/channels, /channels/:name and /channels/:name/users: cluster-wide answers. */
export const channelsRoutes: FastifyPluginAsync<ApiContext> = async (f, ctx) => {
  f.get('/apps/:appId/channels', async (req) => {
    await authorizeRequest(req, ctx);
    const app = req.heraldApp;
    const prefix = req.heraldParams.get('filter_by_prefix');
    const filter = typeof prefix === 'string' && prefix !== '' ? prefix : undefined;
    const info = infoOf(req);
    if (info.has('user_count') && !(filter ?? '').startsWith('presence-')) {
      throw apiError('NotPresence', 'user_count is only available for presence channels: use filter_by_prefix=presence-');
    }
    const occupied = await ctx.state.channels.channels(app.id, filter);
    // No prototype: a channel named `__proto__` is a key like any other.
    const channels = Object.create(null) as Record<string, { user_count?: number; subscription_count?: number }>;
    const listed = [...occupied].filter(([name]) => !name.startsWith(USER_CHANNEL_PREFIX));
    // All at once: one after another, a thousand presence channels wait a thousand round trips.
    const userCounts = info.has('user_count') ? await Promise.all(listed.map(([name]) => ctx.state.presence.userCount(app.id, name))) : undefined;
    listed.forEach(([name, count], i) => {
      const entry: { user_count?: number; subscription_count?: number } = {};
      if (userCounts !== undefined) entry.user_count = userCounts[i];
      if (info.has('subscription_count')) entry.subscription_count = count;
      channels[name] = entry;
    });
    return { channels };
  });

  f.get('/apps/:appId/channels/:channelName', async (req) => {
    await authorizeRequest(req, ctx);
    const app = req.heraldApp;
    const name = channelParam(req);
    const info = infoOf(req);
    const presence = isPresenceChannel(name);
    if (info.has('user_count') && !presence) {
      throw apiError('NotPresence', 'user_count is only available for presence channels');
    }
    const count = await ctx.state.channels.count(app.id, name);
    const out: { occupied: boolean; user_count?: number; subscription_count?: number; cache?: { data: string; ttl: number } } = {
      occupied: count > 0,
    };
    if (info.has('user_count')) out.user_count = await ctx.state.presence.userCount(app.id, name);
    if (info.has('subscription_count')) out.subscription_count = count;
    if (info.has('cache') && channelKind(name).cache) {
      const cached = await ctx.state.cache.get(app.id, name);
      if (cached !== undefined) out.cache = { data: cached.data, ttl: cached.ttl };
    }
    return out;
  });

  f.get('/apps/:appId/channels/:channelName/users', async (req) => {
    await authorizeRequest(req, ctx);
    const app = req.heraldApp;
    const name = channelParam(req);
    if (!isPresenceChannel(name)) throw apiError('NotPresence', 'Channel must be a presence channel');
    const members = await ctx.state.presence.members(app.id, name);
    return { users: members.map((m) => ({ id: m.userId })) };
  });
};
