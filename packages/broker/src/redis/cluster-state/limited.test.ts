import { describe, expect, it } from 'vitest';
import { forEachInOrderPerKey, forEachLimited } from './limited.js';

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

  it('runs the items of one key in their order, one at a time, and keys side by side', async () => {
    const items = ['a1', 'b1', 'a2', 'c1', 'b2', 'a3'];
    const log: string[] = [];
    const running = new Set<string>();
    let overlapSameKey = false;
    let mostKeys = 0;
    await forEachInOrderPerKey(
      items,
      (x) => x[0]!,
      8,
      async (x) => {
        if (running.has(x[0]!)) overlapSameKey = true;
        running.add(x[0]!);
        mostKeys = Math.max(mostKeys, running.size);
        await new Promise((r) => setImmediate(r));
        running.delete(x[0]!);
        log.push(x);
      },
    );
    expect(overlapSameKey).toBe(false);
    expect(mostKeys).toBe(3);
    for (const k of ['a', 'b', 'c']) expect(log.filter((x) => x[0] === k)).toEqual(items.filter((x) => x[0] === k));
  });
});
