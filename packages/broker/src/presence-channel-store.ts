import type { ChannelStore } from './channel-store.js';
import type { PresenceMember, PresenceStore } from './presence-store.js';

/** What a presence subscription did: the channel's subscription count and the member change. */
export interface PresenceJoin {
  count: number;
  added: boolean;
  /** The user's first connection in the channel: member_added was published. */
  first: boolean;
  /** The members after the join (this user included), for pusher_internal:subscription_succeeded. */
  members: PresenceMember[];
  /**
   * The shared state was unreachable: the join is local only (registered, and member_added sent,
   * once the store is back) and `members` is empty, not the channel's members.
   */
  partial?: boolean;
}

export interface PresenceLeave {
  count: number;
  /** The shared state was unreachable: the leave is local only (undone in the store on recovery). */
  partial?: boolean;
  removed: boolean;
  /** The user's last connection left: member_removed was published. */
  last: boolean;
  member?: PresenceMember;
}

/**
 * A presence subscription in one step each way: the channel subscription and the membership
 * together (on Redis one script call per join or leave instead of several round trips). Same
 * effects, member events included, as ChannelStore.join + PresenceStore.add + members, and
 * ChannelStore.leave + PresenceStore.remove; idempotent per socket like them.
 */
export interface PresenceChannelStore {
  join(appId: string, channel: string, socketId: string, m: PresenceMember): Promise<PresenceJoin>;
  /** `userId`: the user the socket joined as (member_removed names it). */
  leave(appId: string, channel: string, socketId: string, userId: string): Promise<PresenceLeave>;
}

/** Composes the two-step operations; for stores where each step is cheap (memory). */
export function composePresenceChannels(channels: ChannelStore, presence: PresenceStore): PresenceChannelStore {
  return {
    async join(appId, channel, socketId, m) {
      const { count, added } = await channels.join(appId, channel, socketId);
      const { first } = await presence.add(appId, channel, socketId, m);
      return { count, added, first, members: await presence.members(appId, channel) };
    },
    async leave(appId, channel, socketId) {
      // The store knows the socket's user itself.
      const { count, removed } = await channels.leave(appId, channel, socketId);
      return { count, removed, ...(await presence.remove(appId, channel, socketId)) };
    },
  };
}
