export interface PresenceMember {
  userId: string;
  userInfo?: unknown;
}

/**
 * Presence members with a connection count per user, keyed by socket: add and remove are
 * idempotent per socket. A store publishes the member events itself, in the same step that decides
 * them (`first`: member_added to the channel except the joining socket; `last`: member_removed),
 * so that every node sees a channel's member events in the order they were decided: a leave on
 * one node and the same user's join on another, announced by their callers afterwards, could
 * arrive the other way round and drop a user who is present.
 * Reads (`members`, `userCount`) throw StateUnavailableError while the state is unreachable.
 */
export interface PresenceStore {
  add(appId: string, channel: string, socketId: string, m: PresenceMember): Promise<{ first: boolean }>;
  remove(appId: string, channel: string, socketId: string): Promise<{ last: boolean; member?: PresenceMember }>;
  /** Distinct users, each once, with the user_info of their first connection. */
  members(appId: string, channel: string): Promise<PresenceMember[]>;
  userCount(appId: string, channel: string): Promise<number>;
  /** Whether a new user (not `userId` if already a member) would bring the channel over `max` users. */
  wouldExceed(appId: string, channel: string, userId: string, max: number): Promise<boolean>;
}
