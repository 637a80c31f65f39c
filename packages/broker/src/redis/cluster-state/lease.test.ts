import { afterEach, describe, expect, it, vi } from 'vitest';
import { RedisKeys } from '../keys.js';
import type { RedisClient } from '../redis-client.js';
import { NodeLease } from './lease.js';

const LEASE_MS = 3000;

/** A lease whose renewal script answers `previous` (the expiry it replaced), recording its calls. */
function lease(previous: () => string | null) {
  const calls: unknown[][] = [];
  const client = {
    defineCommand: () => undefined,
    heraldLeaseRenew: async (...args: unknown[]) => {
      calls.push(args);
      return previous();
    },
  } as unknown as RedisClient;
  return { lease: new NodeLease({ client, keys: new RedisKeys('t'), nodeId: 'n1', leaseMs: LEASE_MS, connected: () => true }), calls };
}

describe('NodeLease', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('renews in one call, which reads the previous expiry and writes the new one', async () => {
    const { lease: l, calls } = lease(() => String(Date.now() + LEASE_MS));
    const before = Date.now();
    await l.renew();
    expect(calls).toHaveLength(1);
    const [key, node, expiry] = calls[0] as [string, string, number];
    expect([key, node]).toEqual(['t:nodes', 'n1']);
    expect(expiry).toBeGreaterThanOrEqual(before + LEASE_MS);
  });

  it('is not lapsed when renewed on time', async () => {
    expect(await lease(() => String(Date.now() + (2 * LEASE_MS) / 3)).lease.renew()).toBe(false);
  });

  it('is lapsed when its lease is gone: another node removed its state', async () => {
    expect(await lease(() => null).lease.renew()).toBe(true);
  });

  it('is lapsed when its lease had expired though still listed: another node may be removing its state', async () => {
    expect(await lease(() => String(Date.now() - 1)).lease.renew()).toBe(true);
  });

  it('is lapsed when its lease had nearly expired: a node whose clock runs ahead may take it for expired', async () => {
    expect(await lease(() => String(Date.now() + LEASE_MS / 20)).lease.renew()).toBe(true);
  });

  it('is held since its first renewal while no renewal lapsed or came late', async () => {
    vi.useFakeTimers();
    const { lease: l } = lease(() => String(Date.now() + (2 * LEASE_MS) / 3));
    expect(l.heldMs).toBe(0);
    await l.renew();
    vi.advanceTimersByTime(LEASE_MS / 3);
    await l.renew();
    expect(l.heldMs).toBeGreaterThan(LEASE_MS);
  });

  it('is held again from the renewal that found it lapsed', async () => {
    vi.useFakeTimers();
    let previous: string | null = String(Date.now() + LEASE_MS);
    const { lease: l } = lease(() => previous);
    await l.renew();
    vi.advanceTimersByTime(LEASE_MS / 3);
    previous = String(Date.now() - 1);
    await l.renew();
    expect(l.heldMs).toBe(0);
    vi.advanceTimersByTime(LEASE_MS / 3);
    previous = String(Date.now() + (2 * LEASE_MS) / 3);
    await l.renew();
    expect(l.heldMs).toBe(LEASE_MS / 3);
  });

  it('is not held while its renewals are overdue', async () => {
    vi.useFakeTimers();
    const { lease: l } = lease(() => String(Date.now() + (2 * LEASE_MS) / 3));
    await l.renew();
    vi.advanceTimersByTime(LEASE_MS);
    expect(l.heldMs).toBe(0);
  });

  it('is held again from a renewal that came after renewals were missed, its lease still live', async () => {
    vi.useFakeTimers();
    const { lease: l } = lease(() => String(Date.now() + LEASE_MS / 3));
    await l.renew();
    vi.advanceTimersByTime(LEASE_MS - 1);
    await l.renew();
    expect(l.heldMs).toBe(0);
  });

  it('shares a renewal in flight with the calls made meanwhile', async () => {
    let answer: ((previous: string) => void) | undefined;
    const calls: unknown[][] = [];
    const client = {
      defineCommand: () => undefined,
      heraldLeaseRenew: (...args: unknown[]) => {
        calls.push(args);
        return new Promise<string>((resolve) => (answer = resolve));
      },
    } as unknown as RedisClient;
    const l = new NodeLease({ client, keys: new RedisKeys('t'), nodeId: 'n1', leaseMs: LEASE_MS, connected: () => true });
    const [a, b] = [l.renew(), l.renew()];
    expect(calls).toHaveLength(1);
    answer!(String(Date.now() + LEASE_MS));
    expect(await Promise.all([a, b])).toEqual([false, false]);
  });

  it('writes its expiry again at once when the answer came a renewal period late', async () => {
    vi.useFakeTimers();
    let late = true;
    const { lease: l, calls } = lease(() => {
      // The answer to the first call comes a whole renewal period after it was sent.
      if (late) vi.advanceTimersByTime(LEASE_MS / 3);
      late = false;
      return String(Date.now() + LEASE_MS / 3);
    });
    await l.renew();
    expect(calls).toHaveLength(2);
    expect((calls[1] as [string, string, number])[2]).toBe(Date.now() + LEASE_MS);
  });
});
