import { channelKind, pusherError, clientEventRateLimited, dataToString, encodeChannelEvent } from '@herald/protocol';
import type { HandlerContext } from '../context.js';
import { dataExcerpt } from '../debug-records.js';
import { sendError } from '../hub.js';
import { countLimit } from '../metrics.js';
import type { SocketData } from '../socket-data.js';
import { historyPolicy } from '../recovery.js';

const rejected = (why: string) => pusherError('ClientEventRejected', why);

/**
 * A `client-*` event: only on private/presence channels the sender has joined, rate-limited per
 * connection, relayed to every other subscriber (never back to the sender) with `data` as a string
 * and `user_id` on presence channels.
 */
export async function handleClientEvent(ctx: HandlerContext, data: SocketData, event: string, channel: unknown, payload: unknown, now: number): Promise<void> {
  const { app } = data;
  if (!app.clientEvents) {
    return sendError(data, pusherError('ClientEventsDisabled'), ctx.metrics);
  }
  if (typeof channel !== 'string') return sendError(data, rejected('a channel is required'), ctx.metrics);
  if (!channelKind(channel).clientEvents) {
    return sendError(data, rejected('only supported on private and presence channels'), ctx.metrics);
  }
  const sub = data.channels.get(channel);
  if (sub === undefined) return sendError(data, rejected(`not subscribed to ${channel.slice(0, 210)}`), ctx.metrics);
  if (event.length > app.limits.maxEventNameLength) return sendError(data, rejected('event name too long'), ctx.metrics);
  if (now - data.clientEventWindow >= 1000) {
    data.clientEventWindow = now;
    data.clientEventCount = 0;
  }
  if (++data.clientEventCount > app.limits.maxClientEventsPerSecond) {
    ctx.metrics.clientEventsRateLimited.inc();
    countLimit(ctx.metrics, 'client_events_rate');
    return sendError(data, clientEventRateLimited(), ctx.metrics);
  }
  let body: string;
  try {
    body = dataToString(payload);
  } catch {
    // JSON.stringify throws RangeError on data nested deeper than the stack allows (a 64 KiB frame
    // holds ~32k levels): a bad client event, not an internal error.
    return sendError(data, rejected('data cannot be serialised'), ctx.metrics);
  }
  const size = Buffer.byteLength(body);
  if (size > app.limits.maxEventPayloadBytes) {
    countLimit(ctx.metrics, 'event_payload');
    return sendError(data, rejected(`data over ${app.limits.maxEventPayloadBytes} bytes`), ctx.metrics);
  }
  const frame = encodeChannelEvent(event, channel, body, sub.presenceUserId);
  const history = historyPolicy(app, channel);
  await ctx.state.broker.publish({ appId: app.id, channel, frame, exceptSocketId: data.socketId, ...(history ? { history } : {}) });
  ctx.events.clientEvent(app.id, {
    channel,
    event,
    data: body,
    socketId: data.socketId,
    ...(sub.presenceUserId !== undefined ? { userId: sub.presenceUserId } : {}),
  });
  if (ctx.debug.watching(app.id)) {
    ctx.debug.emit(app.id, {
      kind: 'client_event',
      socketId: data.socketId,
      channel,
      event,
      size,
      data: dataExcerpt(body),
      ...(sub.presenceUserId !== undefined ? { userId: sub.presenceUserId } : {}),
    });
  }
}
