/**
 * A node's record of what it added to the shared state, so that it can be removed if the node
 * dies. Stored as JSON entries of the node's contributions set (RedisKeys.contributions).
 */
export type Contribution =
  | { kind: 'subscription'; appId: string; channel: string; socketId: string }
  | { kind: 'presence'; appId: string; channel: string; socketId: string }
  | { kind: 'user'; appId: string; userId: string; socketId: string };

/**
 * The stored form keeps the one-letter kinds `s`, `p`, `u`: during a rolling upgrade nodes of this
 * and of the previous release share one Redis, each reaping the entries of dead nodes and removing
 * its own entries by their exact text, so the text must not change. This is the only place that
 * maps between the stored letters and the kinds.
 */
const STORED_KIND = { subscription: 's', presence: 'p', user: 'u' } as const satisfies Record<Contribution['kind'], string>;

export const encodeContribution = (c: Contribution): string =>
  JSON.stringify(c.kind === 'user' ? [STORED_KIND.user, c.appId, c.userId, c.socketId] : [STORED_KIND[c.kind], c.appId, c.channel, c.socketId]);

export function decodeContribution(s: string): Contribution | undefined {
  try {
    const [stored, appId, name, socketId] = JSON.parse(s) as [string, string, string, string];
    if (stored === STORED_KIND.user) return { kind: 'user', appId, userId: name, socketId };
    if (stored === STORED_KIND.subscription) return { kind: 'subscription', appId, channel: name, socketId };
    if (stored === STORED_KIND.presence) return { kind: 'presence', appId, channel: name, socketId };
  } catch {
    /* a malformed entry is skipped: it cannot name anything to remove */
  }
  return undefined;
}
