import { describe, expect, it } from 'vitest';
import { RedisKeys } from '../keys.js';
import type { RedisClient } from '../redis-client.js';
import type { RedisStores } from '../redis-stores.js';
import { Reaper } from './reaper.js';

const log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * A reaper that lists node `a` as expired; `expiryUnderLock` is what the lease reads once the
 * reaper holds the lock on `a`'s state (the node may have renewed, or been reaped, in between).
 */
function reaper(expiryUnderLock: string | null, judging: () => boolean = () => true) {
  const removed: string[] = [];
  let listed = 0;
  const client = {
    zrangebyscore: async () => (listed++, ['a']),
    set: async () => 'OK',
    del: async () => 1,
    zscore: async () => expiryUnderLock,
    smembers: async () => [],
    zrem: async (_key: string, node: string) => (removed.push(node), 1),
    hdel: async () => 1,
  } as unknown as RedisClient;
  const r = new Reaper({
    client,
    keys: new RedisKeys('t'),
    nodeId: 'me',
    stores: {} as Pick<RedisStores, 'channels' | 'presence' | 'users'>,
    broker: { publishControl: async () => undefined },
    connected: () => true,
    judging,
    log,
  });
  return { reaper: r, removed, listed: () => listed };
}

describe('Reaper', () => {
  it('removes a node whose lease is still expired once it holds the lock', async () => {
    const { reaper: r, removed } = reaper(String(Date.now() - 1));
    expect(await r.reapExpired()).toBe(1);
    expect(removed).toEqual(['a']);
  });

  it('reads no lease while its own view is not to be believed (its own renewals lapsed or were missed)', async () => {
    const { reaper: r, removed, listed } = reaper(String(Date.now() - 1), () => false);
    expect(await r.reapExpired()).toBe(0);
    expect([listed(), removed]).toEqual([0, []]);
  });

  it('removes nothing when its own renewals stopped while the listing was being answered (an outage it saw)', async () => {
    let asked = 0;
    const { reaper: r, removed, listed } = reaper(String(Date.now() - 1), () => asked++ === 0);
    expect(await r.reapExpired()).toBe(0);
    expect([listed(), removed]).toEqual([1, []]);
  });

  it('leaves a node that renewed its lease after being listed as expired', async () => {
    const { reaper: r, removed } = reaper(String(Date.now() + 2000));
    expect(await r.reapExpired()).toBe(0);
    expect(removed).toEqual([]);
  });

  it('leaves a node that another reaper removed after it was listed', async () => {
    const { reaper: r, removed } = reaper(null);
    expect(await r.reapExpired()).toBe(0);
    expect(removed).toEqual([]);
  });
});
