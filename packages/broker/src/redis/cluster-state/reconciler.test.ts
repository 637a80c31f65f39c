import { describe, expect, it } from 'vitest';
import type { LocalContribution } from '../../cluster-state.js';
import { encodeContribution } from '../contribution.js';
import { RedisKeys } from '../keys.js';
import type { RedisClient } from '../redis-client.js';
import type { RedisStores } from '../redis-stores.js';
import { Reconciler } from './reconciler.js';

const log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const sub = (channel: string, socketId = 's1'): LocalContribution => ({ kind: 'subscription', appId: 'app', channel, socketId });
const entry = (c: LocalContribution) => encodeContribution(c);

/**
 * A node's local state and its contributions set as Redis holds it. Joins record their entry as
 * the store does; the set's read can be held (`holdReads`) to stand for a read that Redis answers
 * only after later commands landed, as a Redis Cluster retry does during a failover.
 */
function node(local: LocalContribution[], stored: LocalContribution[]) {
  const contributions = new Set(stored.map(entry));
  let onJoin: ((channel: string) => void) | undefined;
  let held: (() => void) | undefined;
  let holdReads = false;
  let reads = 0;
  const client = {
    smembers: async () => {
      reads++;
      if (holdReads) await new Promise<void>((release) => (held = release));
      return [...contributions];
    },
    hset: async () => 1,
  } as unknown as RedisClient;
  const channels = {
    join: async (appId: string, channel: string, socketId: string) => {
      contributions.add(entry({ kind: 'subscription', appId, channel, socketId }));
      onJoin?.(channel);
      return { count: 1, added: true };
    },
  } as unknown as RedisStores['channels'];
  const reconciler = new Reconciler({
    client,
    keys: new RedisKeys('t'),
    nodeId: 'n1',
    stores: { channels, presence: {} as RedisStores['presence'], users: {} as RedisStores['users'] },
    broker: { publishControl: async () => undefined },
    reaper: {
      removeContributions: async (_node: string, entries: string[]) => {
        for (const e of entries) contributions.delete(e);
      },
    },
    log,
  });
  reconciler.setLocalState(() => [...local]);
  return {
    reconciler,
    contributions,
    holdReads: () => (holdReads = true),
    heldRead: () => held,
    reads: () => reads,
    onJoin: (cb: (channel: string) => void) => (onJoin = cb),
  };
}

describe('Reconciler', () => {
  it('keeps an entry joined while the stored entries were being read, even when its write lands before the read', async () => {
    const local = [sub('kept')];
    const n = node(local, [sub('kept'), sub('left')]);
    n.holdReads();
    const done = n.reconciler.registerAgain();
    await expect.poll(() => n.heldRead()).toBeDefined();
    // The gateway subscribes a socket meanwhile: listed locally first, then its entry written.
    local.push(sub('fresh', 's2'));
    n.contributions.add(entry(sub('fresh', 's2')));
    n.heldRead()!();
    await done;
    expect([...n.contributions].sort()).toEqual([entry(sub('fresh', 's2')), entry(sub('kept'))].sort());
  });

  it('removes again an entry whose socket left while the local state was being joined', async () => {
    const local = [sub('a'), sub('b', 's2')];
    const n = node(local, [sub('a'), sub('b', 's2')]);
    n.onJoin((channel) => {
      if (channel !== 'a') return;
      // s2 closes as `a` is joined: its leave lands before the reconciler joins `b` again.
      local.splice(1, 1);
      n.contributions.delete(entry(sub('b', 's2')));
    });
    await n.reconciler.registerAgain();
    expect([...n.contributions]).toEqual([entry(sub('a'))]);
  });

  it('runs one registration at a time, and one more, shared, for the calls made while it ran', async () => {
    const n = node([sub('a')], []);
    n.holdReads();
    const first = n.reconciler.registerAgain();
    await expect.poll(() => n.reads()).toBe(1);
    const [second, third] = [n.reconciler.registerAgain(), n.reconciler.registerAgain()];
    expect(second).toBe(third);
    n.heldRead()!();
    await first;
    await expect.poll(() => n.reads()).toBe(2);
    n.heldRead()!();
    await second;
    expect(n.reads()).toBe(2);
  });
});
