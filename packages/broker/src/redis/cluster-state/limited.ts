/**
 * How many sockets' entries are registered or removed at once. A node holds one entry per
 * subscription (tens of thousands on a busy gateway); one at a time, each waits a round trip, and a
 * gateway reaping a dead one under load took more than a minute. Concurrent commands are sent as one write
 * by ioredis's auto-pipelining, and 64 keep the replies waiting in memory small.
 */
export const STATE_WRITE_CONCURRENCY = 64;

/**
 * Runs `fn` on every item, at most `limit` at a time. Rejects with the first error, once the calls
 * already started have settled; no call starts after a failure.
 */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const lane = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure !== undefined) throw failure.err;
}

/**
 * Runs `fn` on every item: items with the same key one after another, in their order (one socket's
 * entries are not assumed to commute),
 * at most `limit` keys at a time. Errors as forEachLimited.
 */
export async function forEachInOrderPerKey<T>(items: readonly T[], keyOf: (item: T) => string, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = keyOf(item);
    const g = groups.get(k);
    if (g === undefined) groups.set(k, [item]);
    else g.push(item);
  }
  await forEachLimited([...groups.values()], limit, async (group) => {
    for (const item of group) await fn(item);
  });
}
