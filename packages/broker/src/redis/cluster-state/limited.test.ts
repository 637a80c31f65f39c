import { describe, expect, it } from 'vitest';
import { forEachLimited } from './limited.js';

/** A call that resolves when the test says so. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

describe('forEachLimited', () => {
  it('runs every item, never more than the limit at once', async () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    let running = 0;
    let most = 0;
    const done: number[] = [];
    await forEachLimited(items, 4, async (i) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setImmediate(r));
      running--;
      done.push(i);
    });
    expect(done.sort((a, b) => a - b)).toEqual(items);
    expect(most).toBe(4);
  });

  it('rejects with the first error, after the calls already started, and starts none after it', async () => {
    const started: number[] = [];
    const slow = gate();
    let slowSettled = false;
    const run = forEachLimited([0, 1, 2, 3, 4, 5], 2, async (i) => {
      started.push(i);
      if (i === 0) {
        await slow.opened;
        slowSettled = true;
      } else if (i === 1) throw new Error('refused');
    });
    // Item 1 failed at once: nothing more starts while item 0 is still running.
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1]);
    slow.open();
    await expect(run).rejects.toThrow('refused');
    expect(slowSettled).toBe(true);
    expect(started).toEqual([0, 1]);
  });

  it('does nothing for no items', async () => {
    await expect(forEachLimited([], 8, () => Promise.reject(new Error('called')))).resolves.toBeUndefined();
  });
});
