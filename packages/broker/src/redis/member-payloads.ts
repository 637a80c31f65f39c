import { encodeMemberAdded, encodeMemberRemoved } from '@herald/protocol';
import type { PresenceMember } from '../presence-store.js';
import { encodeEnvelope } from './envelope.js';

/** The member_added publication (not to the joining socket), as the presence scripts publish it. */
export const addedPayload = (channel: string, socketId: string, m: PresenceMember) =>
  encodeEnvelope({ frame: encodeMemberAdded(channel, m.userId, m.userInfo), exceptSocketId: socketId }) as string;

export const removedPayload = (channel: string, userId: string) => encodeEnvelope({ frame: encodeMemberRemoved(channel, userId) }) as string;

/** user_info as stored in a members hash: JSON, '' when absent. */
export const infoToJson = (info: unknown) => (info === undefined ? '' : JSON.stringify(info));

const jsonToInfo = (s: string | undefined): unknown => {
  if (s === undefined || s === '') return undefined;
  try {
    return JSON.parse(s);
  } catch {
    // An unparsable user_info reads as none rather than failing the whole member list.
    return undefined;
  }
};

/** A member as read back from the store: no `userInfo` key when it had none. */
export const toMember = (userId: string, infoJson: string | undefined): PresenceMember => {
  const userInfo = jsonToInfo(infoJson);
  return userInfo === undefined ? { userId } : { userId, userInfo };
};
