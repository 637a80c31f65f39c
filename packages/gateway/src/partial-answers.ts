import { StateUnavailableError, type PresenceMember } from '@herald/broker';
import { encodePresenceSucceeded, encodeWatchlistEvents, type RecoveryFields } from '@herald/protocol';
import type { HandlerContext } from './context.js';
import { sendFrame } from './hub.js';
import type { CatchUpResult, JoinExtras } from './recovery.js';
import { queueOnSocket, socketLog, type SocketData } from './socket-data.js';

/**
 * Answers given while the shared state is unreachable say only what this node knows, and are
 * completed once it is back: a presence member list then holds the members of this node's own
 * sockets (marked `partial`), a watchlist the watched users signed in here (online; the others
 * are not reported offline). When the state recovers, every such socket gets the full answer.
 */

/** Members of `channel` among this node's sockets, each user once (the first socket's user_info). */
function localMembers(ctx: HandlerContext, appId: string, channel: string): PresenceMember[] {
  const seen = new Map<string, PresenceMember>();
  for (const ws of ctx.hub.sockets.values()) {
    const d = ws.getUserData();
    if (d.app.id !== appId) continue;
    const sub = d.channels.get(channel);
    if (sub?.presenceUserId === undefined || seen.has(sub.presenceUserId)) continue;
    seen.set(
      sub.presenceUserId,
      sub.presenceUserInfo === undefined ? { userId: sub.presenceUserId } : { userId: sub.presenceUserId, userInfo: sub.presenceUserInfo },
    );
  }
  return [...seen.values()];
}

const wire = (members: readonly PresenceMember[]) => members.map((m) => ({ userId: m.userId, userInfo: m.userInfo }));

/** Sends pusher_internal:subscription_succeeded with the cluster's members, or this node's marked partial. */
function sendMemberList(ctx: HandlerContext, data: SocketData, channel: string, members: readonly PresenceMember[] | undefined, extra?: RecoveryFields): void {
  const sub = data.channels.get(channel);
  if (members !== undefined) {
    if (sub?.presenceUserId !== undefined) sub.partialMembers = false;
    sendFrame(data, encodePresenceSucceeded(channel, wire(members), { extra }), ctx.metrics);
    return;
  }
  if (sub?.presenceUserId !== undefined) sub.partialMembers = true;
  sendFrame(data, encodePresenceSucceeded(channel, wire(localMembers(ctx, data.app.id, channel)), { partial: true, extra }), ctx.metrics);
}

/**
 * Sends the member list `read` yields (a join, or a read of the members), then the member events
 * published while it was read that change it (Hub.watchMemberEvents says why), each user left as
 * its latest event says; an event the list already holds (a member added before the read) is not
 * sent again. `subscribe`, when given, subscribes the socket to the channel's topic, at the moment
 * the list is sent: a joining socket receives no member event before its list.
 */
export async function sendMemberListInOrder(
  ctx: HandlerContext,
  data: SocketData,
  channel: string,
  read: () => Promise<readonly PresenceMember[] | undefined>,
  subscribe?: () => void,
  history?: JoinExtras,
): Promise<void> {
  const { app, socketId } = data;
  ctx.hub.watchMemberEvents(app.id, channel, socketId);
  history?.begin();
  let members: readonly PresenceMember[] | undefined;
  let meanwhile: (string | Uint8Array)[];
  let caught: CatchUpResult | undefined;
  try {
    members = await read();
    // Until every member event published before the read has arrived (recorded), the socket
    // stays off the topic: a late one would undo the list.
    await ctx.state.broker.sync(app.id, channel);
  } finally {
    // With `subscribe`, in the same step: nothing published in between is missed.
    meanwhile = ctx.hub.takeMemberEvents(app.id, channel, socketId);
    caught = history?.finish();
    if (data.status === 'open') subscribe?.();
  }
  sendMemberList(ctx, data, channel, members, caught?.extra);
  // A history channel's replay and what was published while it was read (recovery.ts).
  for (const frame of caught?.frames ?? []) sendFrame(data, frame, ctx.metrics);
  const present = new Set((members ?? localMembers(ctx, app.id, channel)).map((m) => m.userId));
  // The socket's own user is a member while it is: an event about that user recorded here was
  // decided before its join (its other connection leaving, a dead node's reaped), and would make
  // the client drop itself from its own list.
  const own = data.channels.get(channel)?.presenceUserId;
  for (const frame of meanwhile) {
    const e = JSON.parse(Buffer.from(frame).toString()) as { event: string; data: string };
    const userId = String((JSON.parse(e.data) as { user_id: unknown }).user_id);
    if (userId === own) continue;
    const added = e.event === 'pusher_internal:member_added';
    if (added === present.has(userId)) continue;
    if (added) present.add(userId);
    else present.delete(userId);
    sendFrame(data, frame, ctx.metrics);
  }
}

/** The cluster's members, or undefined while the shared state is unreachable. */
export async function membersOrUnavailable(ctx: HandlerContext, appId: string, channel: string): Promise<PresenceMember[] | undefined> {
  try {
    return await ctx.state.presence.members(appId, channel);
  } catch (err) {
    if (err instanceof StateUnavailableError) return undefined;
    throw err;
  }
}

/** Sends the watchlist's online/offline state; while the state is unreachable, only the users signed in here (online). */
export async function sendWatchlistState(ctx: HandlerContext, data: SocketData): Promise<void> {
  const watchlist = data.watchlist ?? [];
  if (watchlist.length === 0) return;
  let online: Set<string>;
  try {
    online = await ctx.state.users.online(data.app.id, watchlist);
    data.watchlistPending = false;
  } catch (err) {
    if (!(err instanceof StateUnavailableError)) throw err;
    data.watchlistPending = true;
    const here = ctx.hub.localUsers(data.app.id);
    const onIds = watchlist.filter((id) => here.has(id));
    if (onIds.length > 0) sendFrame(data, encodeWatchlistEvents([{ name: 'online', user_ids: onIds }]), ctx.metrics);
    return;
  }
  const onIds = watchlist.filter((id) => online.has(id));
  const offIds = watchlist.filter((id) => !online.has(id));
  const events: { name: 'online' | 'offline'; user_ids: string[] }[] = [];
  if (onIds.length > 0) events.push({ name: 'online', user_ids: onIds });
  if (offIds.length > 0) events.push({ name: 'offline', user_ids: offIds });
  sendFrame(data, encodeWatchlistEvents(events), ctx.metrics);
}

/**
 * Completes every partial answer of this node's sockets (run when the shared state is back and this
 * node's state is registered in it again). Queued behind each socket's frames, so a subscription
 * being handled finishes first. What still cannot be read stays pending for the next recovery.
 */
export function completePartialAnswers(ctx: HandlerContext): void {
  for (const ws of ctx.hub.sockets.values()) {
    const data = ws.getUserData();
    const channels = [...data.channels].filter(([, sub]) => sub.partialMembers === true).map(([name]) => name);
    if (channels.length === 0 && data.watchlistPending !== true) continue;
    void queueOnSocket(data, async () => {
      try {
        for (const channel of channels) {
          if (data.channels.get(channel)?.partialMembers !== true) continue;
          await sendMemberListInOrder(ctx, data, channel, async () => {
            const members = await membersOrUnavailable(ctx, data.app.id, channel);
            // Still unreachable: the partial list stands, nothing is sent again.
            if (members === undefined) throw new StateUnavailableError();
            return members;
          }).catch((err: unknown) => {
            if (!(err instanceof StateUnavailableError)) throw err;
          });
        }
        if (data.watchlistPending === true) await sendWatchlistState(ctx, data);
      } catch (err) {
        socketLog(data).warn({ err }, 'completing a partial answer failed');
      }
    });
  }
}
