import { describe, expect, it } from 'vitest';
import type { DebugRecord } from '../debug.js';
import { MemoryDebugBus } from './memory-debug-bus.js';

const recorder = () => {
  const records: DebugRecord[] = [];
  const skipped: number[] = [];
  return { records, skipped, console: { record: (r: DebugRecord) => records.push(r), skipped: (n: number) => skipped.push(n) } };
};
const ev = (i: number) => ({ kind: 'api_event' as const, channels: ['c'], event: `e${i}`, size: 1, data: 'x' });

describe('MemoryDebugBus', () => {
  it('watches an app only while a console of it is open, and gives its records to every console of it', async () => {
    const bus = new MemoryDebugBus({ nodeId: 'gw-1' });
    expect(bus.watching('a')).toBe(false);
    bus.emit('a', ev(0)); // nobody: nothing
    const one = recorder();
    const two = recorder();
    const other = recorder();
    const close1 = bus.open('a', one.console);
    const close2 = bus.open('a', two.console);
    bus.open('b', other.console);
    expect(bus.watching('a')).toBe(true);
    bus.emit('a', ev(1));
    expect(one.records).toEqual([expect.objectContaining({ kind: 'api_event', event: 'e1', node: 'gw-1', at: expect.any(Number) as number })]);
    expect(two.records).toHaveLength(1);
    expect(other.records).toHaveLength(0);
    close1();
    close1(); // idempotent: the other console stays
    expect(bus.watching('a')).toBe(true);
    bus.emit('a', ev(2));
    expect(one.records).toHaveLength(1);
    expect(two.records).toHaveLength(2);
    close2();
    expect(bus.watching('a')).toBe(false);
    expect(bus.watching('b')).toBe(true);
    await bus.close();
    expect(bus.watching('b')).toBe(false);
  });

  it('caps the records of an app per second and tells its consoles how many it skipped', async () => {
    let now = 0;
    const bus = new MemoryDebugBus({ nodeId: 'n', perSecond: 10, now: () => now });
    const r = recorder();
    bus.open('a', r.console);
    for (let i = 0; i < 25; i++) bus.emit('a', ev(i));
    expect(r.records).toHaveLength(10);
    await expect.poll(() => r.skipped).toEqual([15]);
    now += 1000;
    bus.emit('a', ev(99));
    expect(r.records).toHaveLength(11);
    await bus.close();
  });

  it('a console that throws hurts neither the producer nor the other consoles', async () => {
    const bus = new MemoryDebugBus({ nodeId: 'n' });
    const r = recorder();
    bus.open('a', {
      record: () => {
        throw new Error('boom');
      },
      skipped: () => undefined,
    });
    bus.open('a', r.console);
    expect(() => bus.emit('a', ev(1))).not.toThrow();
    expect(r.records).toHaveLength(1);
    await bus.close();
  });
});
