import { channelKind } from '@herald/protocol';
import type { HandlerContext } from '../context.js';
import type { SocketData } from '../socket-data.js';

/** `pusher:unsubscribe`: a channel never joined is ignored silently (Pusher's behaviour). */
export async function handleUnsubscribe(ctx: HandlerContext, data: SocketData, channel: unknown): Promise<void> {
  if (typeof channel !== 'string' || !data.channels.has(channel)) return;
  if (data.status === 'open') data.ws?.unsubscribe(ctx.hub.topic(data.app.id, channel));
  const appId = data.app.id;
  if (ctx.debug.watching(appId)) ctx.debug.emit(appId, { kind: 'unsubscribed', socketId: data.socketId, channel });
  await leaveChannel(ctx, data, channel);
}

/**
 * Undoes a subscription in the cluster state: used by unsubscribe and, for every channel, on close
 * (when uWebSockets.js has already dropped the socket from its topics).
 */
export async function leaveChannel(ctx: HandlerContext, data: SocketData, channel: string): Promise<void> {
  const sub = data.channels.get(channel);
  if (sub === undefined) return;
  data.channels.delete(channel);
  ctx.metrics.subscriptions.dec();
  const { app, socketId } = data;
  // Not awaited: a topic kept a little longer only brings messages nobody here receives, and the
  // shared state below must be undone whatever the pub/sub connection is doing.
  if (ctx.hub.localSubscribers(app.id, channel) === 0) void ctx.state.broker.unsubscribe(app.id, channel);
  if (sub.presenceUserId !== undefined) {
    // member_removed, when it was the user's last connection, is published by the store.
    await ctx.state.presenceChannels.leave(app.id, channel, socketId, sub.presenceUserId);
    return;
  }
  const { count, removed, partial } = await ctx.state.channels.leave(app.id, channel, socketId);
  if (removed && partial !== true && count > 0 && app.subscriptionCountEvents && !channelKind(channel).user) {
    ctx.subscriptionCounts.changed(app.id, channel, count, () => ctx.state.channels.count(app.id, channel));
  }
}
