import { afterEach, describe, expect, it, vi } from 'vitest';
import { StateUnavailableError } from '../../errors/state-unavailable.js';
import { StateGuards } from './guards.js';

const log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function guards(state: { connected: boolean; answering: boolean }) {
  const repairs: number[] = [];
  let failRepairs = 0;
  const g = new StateGuards({
    connected: () => state.connected,
    answering: () => state.answering,
    repair: async () => {
      repairs.push(Date.now());
      if (failRepairs-- > 0) throw new Error('still failing over');
    },
    log,
  });
  return { g, repairs, failRepairsTimes: (n: number) => (failRepairs = n) };
}

describe('StateGuards', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('skips a write while disconnected, answering the fallback without running it', async () => {
    const { g, repairs } = guards({ connected: false, answering: false });
    let ran = false;
    expect(await g.write(async () => ((ran = true), 'done'), 'partial')).toBe('partial');
    expect(ran).toBe(false);
    expect(repairs).toHaveLength(0);
    g.close();
  });

  it('answers the fallback for a write that fails while connected, and registers again until it succeeds', async () => {
    vi.useFakeTimers();
    const { g, repairs, failRepairsTimes } = guards({ connected: true, answering: true });
    failRepairsTimes(1);
    const failing = async (): Promise<string> => {
      throw new Error('CLUSTERDOWN');
    };
    expect(await g.write(failing, 'partial')).toBe('partial');
    expect(repairs).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(repairs).toHaveLength(1);
    // The first repair failed: another one follows, and none after the one that succeeded.
    await vi.advanceTimersByTimeAsync(1000);
    expect(repairs).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(5000);
    expect(repairs).toHaveLength(2);
    g.close();
  });

  it('throws StateUnavailableError for a read while Redis does not answer, or when the read fails', async () => {
    const state = { connected: true, answering: false };
    const { g } = guards(state);
    await expect(g.read(async () => 1)).rejects.toBeInstanceOf(StateUnavailableError);
    state.answering = true;
    expect(await g.read(async () => 1)).toBe(1);
    const cause = new Error('MOVED');
    await expect(g.read(() => Promise.reject(cause))).rejects.toMatchObject({ name: 'StateUnavailableError', cause });
    g.close();
  });

  it('runs no repair once closed', async () => {
    vi.useFakeTimers();
    const { g, repairs } = guards({ connected: true, answering: true });
    expect(await g.write(() => Promise.reject(new Error('READONLY')), 'partial')).toBe('partial');
    g.close();
    await vi.advanceTimersByTimeAsync(5000);
    expect(repairs).toHaveLength(0);
  });
});
