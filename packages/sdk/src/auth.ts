import { channelKind, signChannel, signUser } from '@herald/protocol';
import { channelSharedSecret, isEncryptedChannel } from './encryption.js';
import { invalidArgument } from './errors.js';
import type { SdkLimits } from './options.js';
import type { ChannelAuthorization, PresenceData, UserAuthentication, UserData } from './types.js';
import { assertChannel, assertSocketId } from './validate.js';

/** Signing material; `masterKey` only when end-to-end encryption is configured. */
export interface Signer {
  readonly key: string;
  readonly secret: string;
  readonly masterKey: Buffer | undefined;
  readonly limits: Pick<SdkLimits, 'maxChannelNameLength'>;
}

function jsonOf(what: string, value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw invalidArgument(`${what} cannot be JSON-encoded: ${(err as Error).message}`, { cause: err });
  }
  if (json === undefined) throw invalidArgument(`${what} cannot be JSON-encoded`);
  return json;
}

function sharedSecretFor(signer: Signer, channel: string): string {
  if (signer.masterKey === undefined) {
    throw invalidArgument('Cannot generate shared_secret for a private-encrypted- channel: encryptionMasterKeyBase64 is not set');
  }
  return channelSharedSecret(channel, signer.masterKey).toString('base64');
}

/**
 * The channel-auth endpoint's answer (docs/reference/auth.md#what-is-signed, docs/reference/auth.md#worked-examples): `auth` signs `socket_id:channel` (plus
 * `:channel_data` for presence). Byte-identical to pusher-http-node's `authorizeChannel` for the
 * same inputs. Presence data is only accepted for `presence-` channels, where the server checks it;
 * a presence channel without it relies on the connection being signed in.
 */
export function authorizeChannel(signer: Signer, socketId: string, channel: string, presenceData?: PresenceData): ChannelAuthorization {
  assertSocketId(socketId);
  assertChannel(channel, signer.limits);
  const kind = channelKind(channel);
  if (!kind.authorized) throw invalidArgument(`${JSON.stringify(channel)} needs no authorization: only private- and presence- channels do`);
  let channelData: string | undefined;
  if (presenceData !== undefined) {
    if (!kind.presence) throw invalidArgument(`Presence data is only signed for presence- channels, not ${JSON.stringify(channel)}`);
    const id = presenceData?.user_id;
    if (!((typeof id === 'string' && id.length > 0) || (typeof id === 'number' && Number.isFinite(id)))) {
      throw invalidArgument('Presence data needs a user_id (a non-empty string or a number)');
    }
    channelData = jsonOf('Presence data', presenceData);
  }
  const out: ChannelAuthorization = { auth: signChannel(signer.key, signer.secret, socketId, channel, channelData) };
  if (channelData !== undefined) out.channel_data = channelData;
  if (isEncryptedChannel(channel)) out.shared_secret = sharedSecretFor(signer, channel);
  return out;
}

/**
 * The user-auth endpoint's answer for `pusher:signin`: `auth` signs `socket_id::user::user_data`,
 * where `user_data` is `JSON.stringify(userData)` (every field, in the order given).
 */
export function authenticateUser(signer: Signer, socketId: string, userData: UserData): UserAuthentication {
  assertSocketId(socketId);
  if (userData === null || typeof userData !== 'object' || typeof userData.id !== 'string' || userData.id.length === 0) {
    throw invalidArgument('User data needs an id (a non-empty string)');
  }
  if (userData.watchlist !== undefined && !(Array.isArray(userData.watchlist) && userData.watchlist.every((w) => typeof w === 'string'))) {
    throw invalidArgument('watchlist must be an array of user ids');
  }
  const json = jsonOf('User data', userData);
  return { auth: signUser(signer.key, signer.secret, socketId, json), user_data: json };
}

/**
 * webman/push `Api::socketAuth`: the auth JSON as a string, `{"auth":…,"channel_data":…}`. `customData`
 * is signed and sent exactly as given (any channel kind, like the PHP method); `shared_secret` is
 * added for encrypted channels when a master key is configured.
 */
export function socketAuth(signer: Signer, channel: string, socketId: string, customData?: string): string {
  assertChannel(channel, signer.limits);
  assertSocketId(socketId);
  if (customData !== undefined && typeof customData !== 'string') throw invalidArgument('customData must be a string (already JSON-encoded)');
  const data = customData === undefined || customData === '' ? undefined : customData;
  const out: ChannelAuthorization = { auth: signChannel(signer.key, signer.secret, socketId, channel, data) };
  if (data !== undefined) out.channel_data = data;
  if (isEncryptedChannel(channel) && signer.masterKey !== undefined) out.shared_secret = sharedSecretFor(signer, channel);
  return JSON.stringify(out);
}

/**
 * webman/push `Api::presenceAuth`: `socketAuth` with `{"user_id":…,"user_info":…}`; `user_info` is left
 * out when null or undefined (Herald accepts that; webman's own server did not).
 */
export function presenceAuth(signer: Signer, channel: string, socketId: string, userId: string | number, userInfo?: unknown): string {
  if (!((typeof userId === 'string' && userId.length > 0) || (typeof userId === 'number' && Number.isFinite(userId)))) {
    throw invalidArgument('userId must be a non-empty string or a number');
  }
  const data = userInfo === undefined || userInfo === null ? { user_id: userId } : { user_id: userId, user_info: userInfo };
  return socketAuth(signer, channel, socketId, jsonOf('Presence data', data));
}
