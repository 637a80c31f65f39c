import type { HttpClient } from './transport.js';

/** What an auth endpoint answers for a private / presence / encrypted channel (docs/reference/auth.md#channel-authorization). */
export interface ChannelAuthData {
  auth: string;
  /** Presence channels: the signed `{"user_id","user_info"}` JSON string. */
  channel_data?: string;
  /** `private-encrypted-` channels: the channel key, base64 (never sent to the server). */
  shared_secret?: string;
}

/** What a user-auth endpoint answers for `signin()` (docs/reference/auth.md#user-authentication). */
export interface UserAuthData {
  auth: string;
  user_data: string;
}

/** Replaces the HTTP call to `auth`: resolve with the auth data, or reject to fail the subscription. */
export type ChannelAuthorizer = (channelName: string, socketId: string) => Promise<ChannelAuthData>;
/** Replaces the HTTP call to `userAuthEndpoint`. */
export type UserAuthenticator = (socketId: string) => Promise<UserAuthData>;

/** Static values, or a function called before every auth request (fresh tokens). */
export type KeyValues = Record<string, string> | (() => Record<string, string>);

/** A failed auth request; `status` is the HTTP status (0 when no response arrived). */
export class AuthRequestError extends Error {
  override readonly name = 'AuthRequestError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const resolveValues = (v: KeyValues | undefined): Record<string, string> => (typeof v === 'function' ? v() : (v ?? {}));

/** `k=v&…` with every key and value through `encodeURIComponent`, in the given order. */
const formEncode = (pairs: ReadonlyArray<readonly [string, string]>): string =>
  pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');

interface EndpointOptions {
  endpoint: string;
  headers?: KeyValues;
  params?: KeyValues;
  http: HttpClient;
}

async function postForm(o: EndpointOptions, fields: Array<[string, string]>, what: string): Promise<Record<string, unknown>> {
  const extra = Object.entries(resolveValues(o.params));
  const headers = { ...resolveValues(o.headers), 'Content-Type': 'application/x-www-form-urlencoded' };
  let res;
  try {
    res = await o.http({ url: o.endpoint, method: 'POST', headers, body: formEncode([...fields, ...extra]) });
  } catch (err) {
    throw new AuthRequestError(`${what} request to ${o.endpoint} failed: ${err instanceof Error ? err.message : String(err)}`, 0);
  }
  if (res.status < 200 || res.status >= 300) {
    throw new AuthRequestError(`${what} endpoint ${o.endpoint} answered HTTP ${res.status}`, res.status);
  }
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    throw new AuthRequestError(`${what} endpoint ${o.endpoint} answered invalid JSON`, res.status);
  }
  if (typeof body !== 'object' || body === null || typeof (body as { auth?: unknown }).auth !== 'string') {
    throw new AuthRequestError(`${what} endpoint ${o.endpoint} answered JSON without an "auth" string`, res.status);
  }
  return body as Record<string, unknown>;
}

/**
 * POSTs `socket_id=…&channel_name=…` (pusher-js's field order) plus `params`, form-urlencoded,
 * with `headers`; expects a 2xx JSON `{auth, channel_data?, shared_secret?}`.
 */
export function createEndpointAuthorizer(o: EndpointOptions): ChannelAuthorizer {
  return async (channelName, socketId) => {
    const body = await postForm(
      o,
      [
        ['socket_id', socketId],
        ['channel_name', channelName],
      ],
      'Channel auth',
    );
    const out: ChannelAuthData = { auth: body.auth as string };
    if (typeof body.channel_data === 'string') out.channel_data = body.channel_data;
    if (typeof body.shared_secret === 'string') out.shared_secret = body.shared_secret;
    return out;
  };
}

/** POSTs `socket_id=…` plus `params`; expects a 2xx JSON `{auth, user_data}`. */
export function createEndpointUserAuthenticator(o: EndpointOptions): UserAuthenticator {
  return async (socketId) => {
    const body = await postForm(o, [['socket_id', socketId]], 'User auth');
    if (typeof body.user_data !== 'string') {
      throw new AuthRequestError(`User auth endpoint ${o.endpoint} answered JSON without a "user_data" string`, 200);
    }
    return { auth: body.auth as string, user_data: body.user_data };
  };
}
