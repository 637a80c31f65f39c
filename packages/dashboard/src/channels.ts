/** What the channels page needs to know about a channel from its name alone. */

export type ChannelType = 'public' | 'private' | 'presence' | 'encrypted' | 'cache';

/** The type a name gives a channel; cache channels may also be private, presence or encrypted. */
export function channelType(name: string): { type: ChannelType; cache: boolean } {
  const cache = /^(private-|presence-|private-encrypted-)?cache-/.test(name);
  if (name.startsWith('private-encrypted-')) return { type: 'encrypted', cache };
  if (name.startsWith('presence-')) return { type: 'presence', cache };
  if (name.startsWith('private-')) return { type: 'private', cache };
  return { type: cache ? 'cache' : 'public', cache };
}

/** A presence member's user_info (or a cached event's data), readable: JSON indented, other text as is. */
export function prettyJson(value: unknown): string {
  if (typeof value === 'string') {
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      return value;
    }
  }
  return value === undefined ? '' : JSON.stringify(value, null, 2);
}
