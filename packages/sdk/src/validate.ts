import { isValidChannelName, isValidEventName, isValidSocketId } from '@herald/protocol';
import { invalidArgument } from './errors.js';
import type { SdkLimits } from './options.js';

/** Printable excerpt of a refused value for an error message. */
const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v.slice(0, 210)) : typeof v);

/** Pusher channel names (and `#server-to-user-{id}`), at most `maxChannelNameLength` characters. */
export function assertChannel(channel: unknown, limits: Pick<SdkLimits, 'maxChannelNameLength'>): asserts channel is string {
  if (!isValidChannelName(channel, limits.maxChannelNameLength)) throw invalidArgument(`Invalid channel name: ${show(channel)}`);
}

/** One or more channels; a single name becomes a one-element list. Duplicates are kept (the server folds them). */
export function assertChannels(channels: unknown, limits: Pick<SdkLimits, 'maxChannelNameLength' | 'maxChannelsPerTrigger'>): string[] {
  const list: unknown[] = typeof channels === 'string' ? [channels] : Array.isArray(channels) ? channels : [];
  if (list.length === 0) throw invalidArgument('At least one channel is required');
  if (list.length > limits.maxChannelsPerTrigger) {
    throw invalidArgument(`Cannot trigger on more than ${limits.maxChannelsPerTrigger} channels (got ${list.length})`);
  }
  for (const ch of list) assertChannel(ch, limits);
  return list as string[];
}

export function assertEventName(name: unknown, limits: Pick<SdkLimits, 'maxEventNameLength'>): asserts name is string {
  if (!isValidEventName(name, limits.maxEventNameLength)) {
    throw invalidArgument(`Invalid event name ${show(name)}: must be a string of 1 to ${limits.maxEventNameLength} characters`);
  }
}

/** Socket ids are `<digits>.<digits>`, as every Pusher SDK checks before signing. */
export function assertSocketId(socketId: unknown): asserts socketId is string {
  if (!isValidSocketId(socketId)) throw invalidArgument(`Invalid socket id: ${show(socketId)}`);
}

/** User ids: non-empty strings that also make a valid `#server-to-user-{id}` channel name. */
export function assertUserId(userId: unknown, limits: Pick<SdkLimits, 'maxChannelNameLength'>): asserts userId is string {
  if (typeof userId !== 'string' || userId.length === 0 || !isValidChannelName(`#server-to-user-${userId}`, limits.maxChannelNameLength)) {
    throw invalidArgument(`Invalid user id: ${show(userId)}`);
  }
}

export function assertDataSize(data: string, limits: Pick<SdkLimits, 'maxEventPayloadBytes'>): void {
  const bytes = Buffer.byteLength(data, 'utf8');
  if (bytes > limits.maxEventPayloadBytes) {
    throw invalidArgument(`Event data is ${bytes} bytes, over the ${limits.maxEventPayloadBytes}-byte limit`);
  }
}

/** `info` as the server reads it: one comma-separated string. */
export function infoParam(info: unknown): string | undefined {
  if (info === undefined || info === null) return undefined;
  const parts = typeof info === 'string' ? info.split(',') : Array.isArray(info) ? info : undefined;
  if (parts === undefined || !parts.every((p): p is string => typeof p === 'string' && /^[a-z_]*$/.test(p.trim()))) {
    throw invalidArgument(`Invalid info: ${show(info)} (expected attribute names such as 'user_count,subscription_count')`);
  }
  const joined = parts
    .map((p) => p.trim())
    .filter(Boolean)
    .join(',');
  return joined === '' ? undefined : joined;
}
