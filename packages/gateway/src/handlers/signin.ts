import { pusherError, encodeSigninSuccess, parseUserData, userAuthString, userChannelName, verifyAuthValue } from '@herald/protocol';
import type { HandlerContext } from '../context.js';
import { sendError, sendFrame } from '../hub.js';
import type { SocketData } from '../socket-data.js';
import { sendWatchlistState } from '../partial-answers.js';
import { joinChannel } from './subscribe.js';

const unauthorized = (why: string) => pusherError('SigninFailed', why);

/**
 * `pusher:signin`: verifies the user signature, remembers the user on the connection, joins it to
 * `#server-to-user-{id}`, and starts its watchlist. A failure is a `pusher:error` 4009 and the
 * connection stays open (docs/reference/protocol.md#sign-in-and-user-events).
 */
export async function handleSignin(ctx: HandlerContext, data: SocketData, auth: unknown, userData: unknown): Promise<void> {
  if (typeof userData !== 'string') return sendError(data, unauthorized('Invalid user_data: must be a JSON string'), ctx.metrics);
  const check = verifyAuthValue(auth, data.app, userAuthString(data.socketId, userData), 'user sign-in');
  if (!check.ok) return sendError(data, unauthorized(check.reason.replace('subscribe to user sign-in', 'sign in')), ctx.metrics);
  const parsed = parseUserData(userData);
  if (!parsed.ok) return sendError(data, unauthorized(parsed.reason), ctx.metrics);
  const { user } = parsed;
  if (data.userId !== undefined && data.userId !== user.id) {
    return sendError(data, unauthorized('This connection is already signed in as another user'), ctx.metrics);
  }
  sendFrame(data, encodeSigninSuccess(userData), ctx.metrics);
  if (data.userId === user.id) return;
  data.userId = user.id;
  data.userInfo = user.userInfo;
  data.watchlist = user.watchlist;
  ctx.hub.addUser(data.ws!, user.id, user.watchlist);
  const { first, version } = await ctx.state.users.signin(data.app.id, user.id, data.socketId);
  if (first) await ctx.state.broker.publishControl({ kind: 'user-presence', appId: data.app.id, userId: user.id, online: true, version });
  if (data.status !== 'open') return;
  await joinChannel(ctx, data, userChannelName(user.id), undefined);
  // While the shared state is unreachable only the watched users signed in here are reported
  // (online); the full state follows once it is back. Nobody is reported offline from nothing.
  await sendWatchlistState(ctx, data);
  if (user.watchlistTruncated) {
    sendError(data, pusherError('WatchlistTooLong'), ctx.metrics);
  }
}

/** On close: the user goes offline cluster-wide when this was its last signed-in connection. */
export async function signout(ctx: HandlerContext, data: SocketData): Promise<void> {
  if (data.userId === undefined) return;
  const { last, version } = await ctx.state.users.signout(data.app.id, data.userId, data.socketId);
  if (last) await ctx.state.broker.publishControl({ kind: 'user-presence', appId: data.app.id, userId: data.userId, online: false, version });
}
