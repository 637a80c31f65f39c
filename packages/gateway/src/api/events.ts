import { channelKind, encodeChannelEvent, isPresenceChannel, isValidChannelName, isValidEventName, isValidSocketId } from '@herald/protocol';
import type { FastifyPluginAsync } from 'fastify';
import type { App } from '@herald/config';
import { dataExcerpt } from '../debug-records.js';
import type { ApiContext } from './context.js';
import { apiError } from './errors.js';
import { authorizeRequest, jsonBody } from './signature-check.js';
import { historyPolicy } from '../recovery.js';

interface Trigger {
  name: string;
  data: string;
  channels: string[];
  socketId?: string;
  info: Set<string>;
}

/** Validates one trigger (an /events body or one batch item) against the app's limits. */
function parseTrigger(app: App, body: Record<string, unknown>, batchItem: boolean): Trigger {
  const { limits } = app;
  if (body.name === undefined) throw apiError('MissingParameter', 'name');
  if (!isValidEventName(body.name, limits.maxEventNameLength)) {
    throw apiError('InvalidParameter', `Invalid event name: must be a string of 1 to ${limits.maxEventNameLength} characters`);
  }
  if (body.data === undefined) throw apiError('MissingParameter', 'data');
  // Strings are delivered byte for byte; anything else is JSON-encoded once (lenient, like Pusher's SDKs expect).
  let data: string;
  try {
    data = typeof body.data === 'string' ? body.data : JSON.stringify(body.data);
  } catch {
    // JSON.parse accepts any depth; JSON.stringify throws RangeError beyond the stack's.
    throw apiError('InvalidParameter', 'Invalid data: nested too deeply to serialise');
  }
  let channels: unknown[];
  if (Array.isArray(body.channels)) channels = body.channels;
  else if (typeof body.channel === 'string') channels = [body.channel];
  else if (body.channels === undefined && body.channel === undefined) throw apiError('MissingParameter', batchItem ? 'channel' : 'channels');
  else throw apiError('InvalidParameter', 'channels must be an array of channel names');
  if (channels.length === 0) throw apiError('MissingParameter', 'channels');
  if (channels.length > limits.maxChannelsPerTrigger) {
    throw apiError('TooManyChannels', limits.maxChannelsPerTrigger);
  }
  for (const ch of channels) {
    if (!isValidChannelName(ch, limits.maxChannelNameLength)) {
      throw apiError(
        'InvalidParameter',
        `Invalid channel name: ${typeof ch === 'string' ? JSON.stringify(ch.slice(0, 210)) : `(${Array.isArray(ch) ? 'an array' : typeof ch})`}`,
      );
    }
  }
  if (body.socket_id !== undefined && body.socket_id !== null && !isValidSocketId(body.socket_id)) {
    throw apiError('InvalidParameter', 'Invalid socket_id');
  }
  if (body.info !== undefined && body.info !== null && typeof body.info !== 'string')
    throw apiError('InvalidParameter', 'info must be a comma-separated string');
  if (Buffer.byteLength(data) > limits.maxEventPayloadBytes) throw apiError('PayloadTooLarge', limits.maxEventPayloadBytes);
  return {
    name: body.name,
    data,
    channels: [...new Set(channels as string[])],
    ...(typeof body.socket_id === 'string' ? { socketId: body.socket_id } : {}),
    info: new Set(
      typeof body.info === 'string'
        ? body.info
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : [],
    ),
  };
}

async function publish(ctx: ApiContext, app: App, t: Trigger): Promise<void> {
  await Promise.all(
    t.channels.map(async (channel) => {
      const frame = encodeChannelEvent(t.name, channel, t.data);
      const history = historyPolicy(app, channel);
      // Cached before it is published: a subscriber joining in between gets it from the cache.
      if (channelKind(channel).cache) await ctx.state.cache.set(app.id, channel, t.name, t.data, app.cacheTtlSeconds);
      await ctx.state.broker.publish(
        { appId: app.id, channel, frame, ...(t.socketId ? { exceptSocketId: t.socketId } : {}), ...(history ? { history } : {}) },
        // Held while the cluster fails over; not published by then, the trigger answers 503.
        ctx.publishWaitMs !== undefined ? { waitMs: ctx.publishWaitMs } : {},
      );
    }),
  );
  if (ctx.debug.watching(app.id)) {
    ctx.debug.emit(app.id, {
      kind: 'api_event',
      channels: t.channels,
      event: t.name,
      size: Buffer.byteLength(t.data),
      data: dataExcerpt(t.data),
      ...(t.socketId !== undefined ? { excludedSocketId: t.socketId } : {}),
    });
  }
}

/** The `info` attributes of a channel after a trigger: user_count only where it applies. */
async function channelInfo(ctx: ApiContext, app: App, channel: string, info: Set<string>) {
  const out: { user_count?: number; subscription_count?: number } = {};
  if (info.has('user_count') && isPresenceChannel(channel)) out.user_count = await ctx.state.presence.userCount(app.id, channel);
  if (info.has('subscription_count')) out.subscription_count = await ctx.state.channels.count(app.id, channel);
  return out;
}

/** POST /apps/:appId/events once authorised: validates, publishes, answers the requested info. */
export async function triggerEvents(ctx: ApiContext, app: App, body: Record<string, unknown>): Promise<object> {
  const t = parseTrigger(app, body, false);
  await publish(ctx, app, t);
  if (t.info.size === 0) return {};
  // No prototype: a channel named `__proto__` is a key like any other.
  const channels = Object.create(null) as Record<string, object>;
  for (const ch of t.channels) channels[ch] = await channelInfo(ctx, app, ch, t.info);
  return { channels };
}

/** POST /apps/:appId/batch_events once authorised: all or nothing, every item validated first. */
export async function batchEvents(ctx: ApiContext, app: App, body: Record<string, unknown>): Promise<object> {
  if (!Array.isArray(body.batch)) throw apiError('MissingParameter', 'batch');
  if (body.batch.length > app.limits.maxBatchSize) {
    throw apiError('BatchTooLarge', app.limits.maxBatchSize);
  }
  const items = body.batch.map((item: unknown) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw apiError('InvalidParameter', 'Each batch item must be an object');
    return parseTrigger(app, item as Record<string, unknown>, true);
  });
  for (const t of items) await publish(ctx, app, t);
  if (!items.some((t) => t.info.size > 0)) return {};
  const batch = [];
  for (const t of items) batch.push(t.info.size === 0 ? {} : await channelInfo(ctx, app, t.channels[0]!, t.info));
  return { batch };
}

/**
 * POST /apps/:appId/events and /apps/:appId/batch_events. Most requests are answered by the fast
 * path in trigger-fast-path.ts before fastify sees them, with these same triggerEvents and batchEvents.
 */
export const eventsRoutes: FastifyPluginAsync<ApiContext> = async (f, ctx) => {
  f.post('/apps/:appId/events', async (req) => {
    await authorizeRequest(req, ctx);
    return triggerEvents(ctx, req.heraldApp, jsonBody(req));
  });

  f.post('/apps/:appId/batch_events', async (req) => {
    await authorizeRequest(req, ctx);
    return batchEvents(ctx, req.heraldApp, jsonBody(req));
  });
};
