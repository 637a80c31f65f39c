/**
 * Signed-in users (pusher:signin) with a connection count per user, cluster-wide, keyed by socket
 * (signin and signout are idempotent per socket). `online` throws StateUnavailableError while the
 * state is unreachable.
 */
export interface UserStore {
  /** `version`, when `first`: greater than that of every earlier transition of this user (see ControlCommand). */
  signin(appId: string, userId: string, socketId: string): Promise<{ first: boolean; version: number }>;
  /** `version`, when `last`: greater than that of every earlier transition of this user. */
  signout(appId: string, userId: string, socketId: string): Promise<{ last: boolean; version: number }>;
  /** The subset of `userIds` signed in on at least one connection anywhere. */
  online(appId: string, userIds: readonly string[]): Promise<Set<string>>;
}
