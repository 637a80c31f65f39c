import { signApiRequest, userChannelName } from '@herald/protocol';
import { invalidArgument } from './errors.js';
import { encodeEventData } from './event-data.js';
import type { ResolvedOptions } from './options.js';
import type { BatchEvent, ChannelOptions, ChannelsOptions, HistoryOptions, TriggerOptions } from './types.js';
import { assertChannel, assertChannels, assertEventName, assertSocketId, assertUserId, infoParam } from './validate.js';

/** A signed request, ready for the transport. Pure data: building one performs no I/O. */
export interface PreparedRequest {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** The path the signature covers, e.g. `/apps/3/channels/presence-foo` (never percent-encoded). */
  readonly signedPath: string;
  /** What goes on the request line: base-URL prefix, percent-encoded path, `?`, signed query. */
  readonly target: string;
  /** Exact body bytes (the signed body_md5 covers them); undefined for GET. */
  readonly body: string | undefined;
  /** Sent besides the transport's own (`accept`, `content-type`...): the admin client's `authorization` and `if-match`. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** What the builders need: the resolved options plus the credentials. */
export interface RequestContext extends Pick<ResolvedOptions, 'appId' | 'pathPrefix' | 'encode' | 'masterKey' | 'limits'> {
  readonly key: string;
  readonly secret: string;
  /** Unix seconds for auth_timestamp; the current time when absent. */
  readonly timestamp?: number;
}

/**
 * Percent-encodes one path segment, keeping the sub-delimiters and `@`/`:` that RFC 3986 allows in a
 * path. Pusher channel names (`-_=@,.;` plus alphanumerics) therefore travel unescaped, so the path
 * on the wire is the path signed; a user id with `|` or `#` is escaped on the wire and signed
 * unescaped, which Herald verifies after decoding (docs/reference/rest-api.md#request-signing (step 6)).
 */
export const encodePathSegment = (s: string) => encodeURIComponent(s).replace(/%(2C|3B|3D|40|3A|24|26|2B)/g, (m) => decodeURIComponent(m));

function prepare(
  ctx: RequestContext,
  method: 'GET' | 'POST',
  segments: readonly string[],
  opts: { body?: string; params?: Record<string, string> } = {},
): PreparedRequest {
  const base = ['apps', ctx.appId, ...segments];
  const signedPath = `/${base.join('/')}`;
  const query = signApiRequest({
    key: ctx.key,
    secret: ctx.secret,
    method,
    path: signedPath,
    ...(opts.body !== undefined ? { body: opts.body } : {}),
    ...(opts.params ? { params: opts.params } : {}),
    ...(ctx.timestamp !== undefined ? { timestamp: ctx.timestamp } : {}),
  });
  return { method, signedPath, target: `${ctx.pathPrefix}/${base.map(encodePathSegment).join('/')}?${query}`, body: opts.body };
}

/** JSON object with the optional fields left out rather than sent as null. */
const compact = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** POST /apps/{id}/events with `{name, data, channels, socket_id?, info?}` (pusher-http-node's field order). */
export function prepareTrigger(
  ctx: RequestContext,
  channels: string | readonly string[],
  event: string,
  data: unknown,
  opts: TriggerOptions = {},
): PreparedRequest {
  const list = assertChannels(channels, ctx.limits);
  assertEventName(event, ctx.limits);
  if (opts.socketId !== undefined) assertSocketId(opts.socketId);
  const encoded = encodeEventData(list, data, { encode: opts.encode ?? ctx.encode, masterKey: ctx.masterKey, limits: ctx.limits });
  const body = JSON.stringify(compact({ name: event, data: encoded, channels: list, socket_id: opts.socketId, info: infoParam(opts.info) }));
  return prepare(ctx, 'POST', ['events'], { body });
}

/** POST /apps/{id}/batch_events. Every item is validated (and encrypted) before anything is sent. */
export function prepareBatch(ctx: RequestContext, events: readonly BatchEvent[]): PreparedRequest {
  // Array.isArray (there for JavaScript callers) narrows `events` to any[]: the items are read through `items`.
  const items: readonly BatchEvent[] = events;
  if (!Array.isArray(events) || events.length === 0) throw invalidArgument('triggerBatch needs at least one event');
  if (events.length > ctx.limits.maxBatchSize) {
    throw invalidArgument(`Cannot batch more than ${ctx.limits.maxBatchSize} events (got ${events.length})`);
  }
  const batch = items.map((e, i) => {
    if (e === null || typeof e !== 'object') throw invalidArgument(`Batch item ${i} must be an object`);
    assertChannel(e.channel, ctx.limits);
    assertEventName(e.name, ctx.limits);
    if (e.socketId !== undefined) assertSocketId(e.socketId);
    const data = encodeEventData([e.channel], e.data, { encode: e.encode ?? ctx.encode, masterKey: ctx.masterKey, limits: ctx.limits });
    return compact({ channel: e.channel, name: e.name, data, socket_id: e.socketId, info: infoParam(e.info) });
  });
  return prepare(ctx, 'POST', ['batch_events'], { body: JSON.stringify({ batch }) });
}

/** GET /apps/{id}/channels?filter_by_prefix=&info= */
export function prepareChannels(ctx: RequestContext, opts: ChannelsOptions = {}): PreparedRequest {
  if (opts.prefix !== undefined && typeof opts.prefix !== 'string') throw invalidArgument('prefix must be a string');
  const info = infoParam(opts.info);
  const params = compact({ filter_by_prefix: opts.prefix || undefined, info }) as Record<string, string>;
  return prepare(ctx, 'GET', ['channels'], { params });
}

/** GET /apps/{id}/channels/{channel}?info= */
export function prepareChannel(ctx: RequestContext, channel: string, opts: ChannelOptions = {}): PreparedRequest {
  assertChannel(channel, ctx.limits);
  const info = infoParam(opts.info);
  return prepare(ctx, 'GET', ['channels', channel], info === undefined ? {} : { params: { info } });
}

/** GET /apps/{id}/channels/{channel}/history?limit=&since=&direction= */
export function prepareHistory(ctx: RequestContext, channel: string, opts: HistoryOptions = {}): PreparedRequest {
  assertChannel(channel, ctx.limits);
  if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit >= 1 && opts.limit <= 1000)) {
    throw invalidArgument('limit must be an integer from 1 to 1000');
  }
  if (opts.since !== undefined && (typeof opts.since !== 'string' || !/^[0-9a-z]{8,16}:(0|[1-9][0-9]{0,15})$/.test(opts.since))) {
    throw invalidArgument('since must be a position <epoch>:<offset>');
  }
  if (opts.direction !== undefined && opts.direction !== 'forward' && opts.direction !== 'backward') {
    throw invalidArgument('direction must be forward or backward');
  }
  const params = compact({ limit: opts.limit === undefined ? undefined : String(opts.limit), since: opts.since, direction: opts.direction }) as Record<
    string,
    string
  >;
  return prepare(ctx, 'GET', ['channels', channel, 'history'], { params });
}

/** GET /apps/{id}/channels/{presence-channel}/users */
export function prepareUsers(ctx: RequestContext, channel: string): PreparedRequest {
  assertChannel(channel, ctx.limits);
  if (!channel.startsWith('presence-')) throw invalidArgument(`users() needs a presence- channel, not ${JSON.stringify(channel)}`);
  return prepare(ctx, 'GET', ['channels', channel, 'users']);
}

/** POST /apps/{id}/users/{userId}/terminate_connections with the body `{}`. */
export function prepareTerminate(ctx: RequestContext, userId: string): PreparedRequest {
  assertUserId(userId, ctx.limits);
  return prepare(ctx, 'POST', ['users', userId, 'terminate_connections'], { body: '{}' });
}

/** A trigger on `#server-to-user-{userId}`. */
export function prepareSendToUser(
  ctx: RequestContext,
  userId: string,
  event: string,
  data: unknown,
  opts: Pick<TriggerOptions, 'encode'> = {},
): PreparedRequest {
  assertUserId(userId, ctx.limits);
  return prepareTrigger(ctx, [userChannelName(userId)], event, data, opts);
}
