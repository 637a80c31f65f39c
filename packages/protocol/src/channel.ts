/** Channel kinds, decided once from the anchored prefix (docs/reference/protocol.md#channel-kinds). */
export interface ChannelKind {
  /** Needs a signed `auth` to subscribe (private-, presence-, private-encrypted-). */
  readonly authorized: boolean;
  readonly presence: boolean;
  readonly encrypted: boolean;
  /** Keeps the last event published through the HTTP API. */
  readonly cache: boolean;
  /** `#server-to-user-{id}`: only the signed-in user `id` may join. */
  readonly user: boolean;
  /**
   * Client events (`client-*`) allowed: private and presence channels, not encrypted ones (the
   * server cannot tell an encrypted payload from a forged one, and every subscriber that fails to
   * decrypt asks the app's auth endpoint for a new key: one sender would make them all hit it).
   */
  readonly clientEvents: boolean;
}

export const USER_CHANNEL_PREFIX = '#server-to-user-';
const NAME_RE = /^[-a-zA-Z0-9_=@,.;]+$/;
// eslint-disable-next-line no-control-regex -- finding control characters is this pattern's purpose
const CONTROL_RE = /[\u0000-\u001f\u007f]/;

const kind = (k: Partial<ChannelKind>): ChannelKind =>
  Object.freeze({ authorized: false, presence: false, encrypted: false, cache: false, user: false, clientEvents: false, ...k });

const PUBLIC = kind({});
const PUBLIC_CACHE = kind({ cache: true });
const PRIVATE = kind({ authorized: true, clientEvents: true });
const PRIVATE_CACHE = kind({ authorized: true, clientEvents: true, cache: true });
const ENCRYPTED = kind({ authorized: true, encrypted: true });
const ENCRYPTED_CACHE = kind({ authorized: true, encrypted: true, cache: true });
const PRESENCE = kind({ authorized: true, presence: true, clientEvents: true });
const PRESENCE_CACHE = kind({ authorized: true, presence: true, clientEvents: true, cache: true });
const USER = kind({ user: true });

/** Order matters: longer prefixes first, all anchored (soketi's unanchored regexes are a known bug). */
const PREFIXES: ReadonlyArray<readonly [string, ChannelKind]> = [
  ['private-encrypted-cache-', ENCRYPTED_CACHE],
  ['private-encrypted-', ENCRYPTED],
  ['private-cache-', PRIVATE_CACHE],
  ['private-', PRIVATE],
  ['presence-cache-', PRESENCE_CACHE],
  ['presence-', PRESENCE],
  ['cache-', PUBLIC_CACHE],
  [USER_CHANNEL_PREFIX, USER],
];

export function channelKind(name: string): ChannelKind {
  for (const [prefix, k] of PREFIXES) if (name.startsWith(prefix)) return k;
  return PUBLIC;
}

export const isPresenceChannel = (name: string) => channelKind(name).presence;
export const userChannelName = (userId: string) => USER_CHANNEL_PREFIX + userId;
export const userIdOfChannel = (name: string) => (name.startsWith(USER_CHANNEL_PREFIX) ? name.slice(USER_CHANNEL_PREFIX.length) : undefined);

/**
 * True when `name` is a legal channel name: the Pusher character set and at most `maxLength`
 * characters, or a `#server-to-user-{id}` name whose id is itself legal.
 */
export function isValidChannelName(name: unknown, maxLength = 200): name is string {
  if (typeof name !== 'string' || name.length === 0) return false;
  if (name.startsWith(USER_CHANNEL_PREFIX)) {
    // User ids come from the app's sign-in data (e.g. `auth0|5f7c...`), not from the channel-name
    // character set: any printable text is allowed.
    const id = name.slice(USER_CHANNEL_PREFIX.length);
    return id.length > 0 && id.length <= maxLength && !CONTROL_RE.test(id);
  }
  return name.length <= maxLength && NAME_RE.test(name);
}

/** Event names: non-empty strings of at most `maxLength` characters. */
export const isValidEventName = (name: unknown, maxLength = 200): name is string => typeof name === 'string' && name.length > 0 && name.length <= maxLength;

const SOCKET_ID_RE = /^\d+\.\d+$/;
export const isValidSocketId = (id: unknown): id is string => typeof id === 'string' && SOCKET_ID_RE.test(id);
