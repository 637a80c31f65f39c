import type { AppLimits } from './limits.js';

export interface PresenceIdentity {
  userId: string;
  /** Absent when the app sent none; shown as null in member lists. */
  userInfo: unknown;
}

/** `overLimit` marks a refusal by a size limit (user_info), as opposed to malformed data. */
export type PresenceCheck = { ok: true; member: PresenceIdentity } | { ok: false; reason: string; overLimit?: true };

/**
 * Parses a presence `channel_data` string (already signature-checked): an object with `user_id`
 * (string or number, used in its string form) and an optional `user_info` within the size limit.
 */
export function parsePresenceData(channelData: string, limits: Pick<AppLimits, 'maxPresenceUserIdLength' | 'maxPresenceUserInfoBytes'>): PresenceCheck {
  let parsed: unknown;
  try {
    parsed = JSON.parse(channelData);
  } catch {
    return { ok: false, reason: 'Invalid channel_data: not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, reason: 'Invalid channel_data: must be a JSON object' };
  }
  const rec = parsed as Record<string, unknown>;
  const id = rec.user_id;
  if ((typeof id !== 'string' && typeof id !== 'number') || (typeof id === 'number' && !Number.isFinite(id))) {
    return { ok: false, reason: 'Invalid channel_data: user_id is required' };
  }
  const userId = String(id);
  if (userId.length === 0 || userId.length > limits.maxPresenceUserIdLength) {
    return { ok: false, reason: `Invalid channel_data: user_id must be 1 to ${limits.maxPresenceUserIdLength} characters` };
  }
  const userInfo = rec.user_info;
  let infoBytes: number;
  try {
    infoBytes = userInfo === undefined ? 0 : Buffer.byteLength(JSON.stringify(userInfo));
  } catch {
    return { ok: false, reason: 'Invalid channel_data: user_info cannot be serialised' };
  }
  if (infoBytes > limits.maxPresenceUserInfoBytes) {
    return { ok: false, reason: `Invalid channel_data: user_info is over ${limits.maxPresenceUserInfoBytes} bytes`, overLimit: true };
  }
  return { ok: true, member: { userId, userInfo } };
}

export interface SigninUser {
  id: string;
  userInfo: unknown;
  watchlist: string[];
  /** True when more than 100 watchlist ids were given (first 100 kept, error 4302 sent). */
  watchlistTruncated: boolean;
}

export const MAX_WATCHLIST = 100;
/** Longest sign-in user id (the length of channel names the SDKs accept). */
const MAX_USER_ID_LENGTH = 200;

/** Parses sign-in `user_data` (already signature-checked): an object with a non-empty string `id`. */
export function parseUserData(userData: string): { ok: true; user: SigninUser } | { ok: false; reason: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(userData);
  } catch {
    return { ok: false, reason: 'Invalid user_data: not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, reason: 'Invalid user_data: must be a JSON object' };
  }
  const rec = parsed as Record<string, unknown>;
  // eslint-disable-next-line no-control-regex -- an id holding a control character is refused
  if (typeof rec.id !== 'string' || rec.id.length === 0 || rec.id.length > MAX_USER_ID_LENGTH || /[\u0000-\u001f\u007f]/.test(rec.id)) {
    return { ok: false, reason: `Invalid user_data: id must be a string of 1 to ${MAX_USER_ID_LENGTH} printable characters` };
  }
  const raw = Array.isArray(rec.watchlist) ? rec.watchlist : [];
  const ids = [...new Set(raw.filter((x): x is string | number => typeof x === 'string' || typeof x === 'number').map(String))];
  return {
    ok: true,
    user: {
      id: rec.id,
      userInfo: rec.user_info,
      watchlist: ids.slice(0, MAX_WATCHLIST),
      watchlistTruncated: ids.length > MAX_WATCHLIST,
    },
  };
}
