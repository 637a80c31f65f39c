import {
  SubscriptionError,
  SubscriptionErrorType,
  channelAuthString,
  channelKind,
  encodeCacheMiss,
  encodeChannelEvent,
  encodeSubscriptionFailure,
  encodeSubscriptionSucceeded,
  isValidChannelName,
  parsePresenceData,
  userChannelName,
  userIdOfChannel,
  verifyAuthValue,
  type PresenceIdentity,
} from '@herald/protocol';
import { StateUnavailableError } from '@herald/broker';
import type { HandlerContext } from '../context.js';
import { shownReason } from '../debug-records.js';
import { membersOrUnavailable, sendMemberListInOrder } from '../partial-answers.js';
import { sendFrame } from '../hub.js';
import { countLimit, type Metrics } from '../metrics.js';
import { PLAIN_SUBSCRIPTION, socketLog, type SocketData } from '../socket-data.js';
import { CatchUp, historyOff, historyPolicy, type CatchUpResult } from '../recovery.js';

const fail = (channel: string, type: SubscriptionErrorType, message: string, status: number) => new SubscriptionError(channel, type, message, status);

/** Checks a subscribe request; returns the presence identity for presence channels. */
function authorize(data: SocketData, channel: string, auth: unknown, channelData: unknown, metrics: Metrics): PresenceIdentity | undefined {
  const { app } = data;
  const kind = channelKind(channel);
  if (kind.user) {
    if (data.userId === undefined || userIdOfChannel(channel) !== data.userId) {
      throw fail(channel, SubscriptionErrorType.AuthError, `Only the signed-in user may subscribe to ${channel}`, 401);
    }
    return undefined;
  }
  if (!kind.authorized) return undefined;
  if (kind.presence && channelData !== undefined && typeof channelData !== 'string') {
    throw fail(channel, SubscriptionErrorType.AuthError, 'Invalid channel_data: must be a JSON string', 401);
  }
  const withData = kind.presence && typeof channelData === 'string' ? channelData : undefined;
  const check = verifyAuthValue(auth, app, channelAuthString(data.socketId, channel, withData), channel);
  if (!check.ok) throw fail(channel, SubscriptionErrorType.AuthError, check.reason, 401);
  if (!kind.presence) return undefined;
  if (withData === undefined) {
    if (data.userId === undefined) {
      throw fail(channel, SubscriptionErrorType.AuthError, 'Presence channels need channel_data, or a signed-in user', 401);
    }
    return { userId: data.userId, userInfo: data.userInfo };
  }
  const parsed = parsePresenceData(withData, app.limits);
  if (!parsed.ok) {
    if (parsed.overLimit) countLimit(metrics, 'presence_user_info');
    throw fail(channel, SubscriptionErrorType.AuthError, parsed.reason, 400);
  }
  return parsed.member;
}

export async function handleSubscribe(
  ctx: HandlerContext,
  data: SocketData,
  channel: unknown,
  auth: unknown,
  channelData: unknown,
  position?: unknown,
): Promise<void> {
  const { app } = data;
  if (!isValidChannelName(channel, app.limits.maxChannelNameLength)) {
    const name = typeof channel === 'string' ? channel.slice(0, 210) : '';
    return reportFailure(ctx, data, fail(name, SubscriptionErrorType.InvalidChannel, `Invalid channel name: ${JSON.stringify(name)}`, 4009));
  }
  const existing = data.channels.get(channel);
  if (existing !== undefined) return resendSucceeded(ctx, data, channel, existing.presenceUserId !== undefined);
  let member: PresenceIdentity | undefined;
  try {
    // The user's own `#server-to-user-` channel, joined at sign-in, does not count.
    const held = data.channels.size - (data.userId !== undefined && data.channels.has(userChannelName(data.userId)) ? 1 : 0);
    if (held >= app.limits.maxChannelsPerConnection) {
      countLimit(ctx.metrics, 'channels_per_connection');
      throw fail(
        channel,
        SubscriptionErrorType.LimitReached,
        `Subscription limit reached: at most ${app.limits.maxChannelsPerConnection} channels per connection`,
        4301,
      );
    }
    member = authorize(data, channel, auth, channelData, ctx.metrics);
    if (member !== undefined && (await ctx.state.presence.wouldExceed(app.id, channel, member.userId, app.limits.maxPresenceMembers))) {
      countLimit(ctx.metrics, 'presence_members');
      throw fail(channel, SubscriptionErrorType.LimitReached, `Presence channel ${channel} is full (${app.limits.maxPresenceMembers} members)`, 4100);
    }
  } catch (err) {
    if (err instanceof SubscriptionError) return reportFailure(ctx, data, err);
    throw err;
  }
  if (data.status !== 'open') return;
  // Only now, once authorised: a history is replayed to no socket whose authorisation failed.
  await joinChannel(ctx, data, channel, member, position);
}

/** Subscribes an authorised socket: local topic, broker interest, cluster counts, presence, cache. */
export async function joinChannel(
  ctx: HandlerContext,
  data: SocketData,
  channel: string,
  member: PresenceIdentity | undefined,
  position?: unknown,
): Promise<void> {
  const { app, socketId } = data;
  const kind = channelKind(channel);
  const history = historyPolicy(app, channel);
  // Recorded before the first await: the close handler, queued behind us, undoes whatever we did.
  data.channels.set(channel, member === undefined ? PLAIN_SUBSCRIPTION : { presenceUserId: member.userId, presenceUserInfo: member.userInfo });
  ctx.metrics.subscriptions.inc();
  const topic = ctx.hub.topic(app.id, channel);
  // The socket joins the topic once its history is read (recovery.ts).
  const catchUp = history !== undefined ? new CatchUp(ctx, data, channel, history, position) : undefined;
  if (member !== undefined) {
    // Subscription, membership, member_added to the others and the member list in one step (one
    // script call on Redis); the socket joins the topic when its list is sent, followed by the
    // member events that came meanwhile. Partial (shared state unreachable): this node's members,
    // marked so.
    await sendMemberListInOrder(
      ctx,
      data,
      channel,
      async () => {
        // Awaited by every joining socket, not only the first: its sync needs the interest active.
        await ctx.state.broker.subscribe(app.id, channel);
        const joined = await ctx.state.presenceChannels.join(app.id, channel, socketId, {
          userId: member.userId,
          ...(member.userInfo !== undefined ? { userInfo: member.userInfo } : {}),
        });
        await catchUp?.read();
        return joined.partial === true ? undefined : joined.members;
      },
      () => data.ws!.subscribe(topic),
      catchUp ?? (position !== undefined ? historyOff : undefined),
    );
    if (kind.cache && catchUp?.recovered !== true) await sendCached(ctx, data, channel);
  } else if (catchUp !== undefined) {
    let joined: Awaited<ReturnType<typeof ctx.state.channels.join>>;
    let caught: CatchUpResult;
    catchUp.begin();
    try {
      await ctx.state.broker.subscribe(app.id, channel);
      joined = await ctx.state.channels.join(app.id, channel, socketId);
      await catchUp.read();
    } finally {
      // In one step with the topic subscription: nothing published in between is missed.
      caught = catchUp.finish();
      if (data.status === 'open') data.ws!.subscribe(topic);
    }
    if (data.status === 'open' && data.ws !== undefined) {
      data.ws.cork(() => {
        sendFrame(data, encodeSubscriptionSucceeded(channel, caught.extra), ctx.metrics);
        for (const frame of caught.frames) sendFrame(data, frame, ctx.metrics);
      });
    }
    // A recovered client has every event: the cached one would come twice.
    if (kind.cache && !caught.recovered) await sendCached(ctx, data, channel);
    if (app.subscriptionCountEvents && !kind.user && joined.partial !== true) {
      ctx.subscriptionCounts.changed(app.id, channel, joined.count, () => ctx.state.channels.count(app.id, channel));
    }
  } else {
    data.ws!.subscribe(topic);
    if (ctx.hub.localSubscribers(app.id, channel) === 1) await ctx.state.broker.subscribe(app.id, channel);
    const { count, partial } = await ctx.state.channels.join(app.id, channel, socketId);
    // A position sent for a channel without history: the client learns it recovers nothing.
    sendFrame(data, encodeSubscriptionSucceeded(channel, position !== undefined ? historyOff.finish().extra : undefined), ctx.metrics);
    // The cached event comes right after subscription_succeeded, before any count update.
    if (kind.cache) await sendCached(ctx, data, channel);
    // A partial join's count is not the cluster's: no count event is made up from it.
    if (app.subscriptionCountEvents && !kind.user && partial !== true) {
      ctx.subscriptionCounts.changed(app.id, channel, count, () => ctx.state.channels.count(app.id, channel));
    }
  }
  if (ctx.debug.watching(app.id)) {
    ctx.debug.emit(app.id, { kind: 'subscribed', socketId, channel, ...(member !== undefined ? { userId: member.userId } : {}) });
  }
}

/**
 * The cached event, or `pusher:cache_miss` (and its webhook). While the shared state is unreachable
 * neither is sent: the cache may well hold an event, so a miss would be made up.
 */
async function sendCached(ctx: HandlerContext, data: SocketData, channel: string) {
  const { app } = data;
  let cached;
  try {
    cached = await ctx.state.cache.get(app.id, channel);
  } catch (err) {
    if (!(err instanceof StateUnavailableError)) throw err;
    socketLog(data).debug({ channel }, 'cache unreadable: neither the cached event nor a miss sent');
    return;
  }
  if (cached !== undefined) {
    sendFrame(data, encodeChannelEvent(cached.event, channel, cached.data), ctx.metrics);
  } else {
    sendFrame(data, encodeCacheMiss(channel), ctx.metrics);
    ctx.events.cacheMiss(app.id, channel);
  }
}

/** A repeated subscribe is idempotent: nothing is counted twice, the client hears success again. */
async function resendSucceeded(ctx: HandlerContext, data: SocketData, channel: string, presence: boolean) {
  const { app } = data;
  if (!presence) return sendFrame(data, encodeSubscriptionSucceeded(channel), ctx.metrics);
  await sendMemberListInOrder(ctx, data, channel, () => membersOrUnavailable(ctx, app.id, channel));
}

function reportFailure(ctx: HandlerContext, data: SocketData, err: SubscriptionError) {
  ctx.metrics.subscriptionErrors.inc({ type: err.type });
  // An AuthError's message holds the string that was signed (channel_data included): the client
  // gets it, logs never do.
  const reason = err.type === SubscriptionErrorType.AuthError ? undefined : err.message;
  socketLog(data).debug({ channel: err.channel, type: err.type, ...(reason !== undefined ? { reason } : {}) }, 'subscription refused');
  const appId = data.app.id;
  if (ctx.debug.watching(appId)) {
    ctx.debug.emit(appId, { kind: 'subscription_failed', socketId: data.socketId, channel: err.channel, code: err.status, reason: shownReason(err.message) });
  }
  if (data.status !== 'open' || data.ws === undefined) return;
  data.ws.cork(() => {
    for (const frame of encodeSubscriptionFailure(err)) sendFrame(data, frame, ctx.metrics);
  });
}
