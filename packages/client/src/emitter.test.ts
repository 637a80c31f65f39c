import { afterEach, describe, expect, it, vi } from 'vitest';
import { Emitter } from './emitter.js';

afterEach(() => vi.useRealTimers());

describe('Emitter (push.js on/off/emit)', () => {
  it('off() follows push.js: all, by event, by callback, by context', () => {
    const e = new Emitter();
    const a = vi.fn();
    const b = vi.fn();
    const ctx1 = {};
    const ctx2 = {};
    e.on('x', a, ctx1).on('x', b, ctx2).on('y', a, ctx1);
    e.off(null, null, ctx1); // every event, context ctx1
    e.emit('x').emit('y');
    expect(a).not.toHaveBeenCalled();
    expect(b).toHaveBeenCalledTimes(1);
    e.on('y', a);
    e.off(undefined, a); // every event, callback a
    e.emit('y');
    expect(a).not.toHaveBeenCalled();
    e.off('x');
    e.emit('x');
    expect(b).toHaveBeenCalledTimes(1);
    e.on('z', a).on_global(b);
    e.off();
    e.emit('z');
    expect(a).not.toHaveBeenCalled();
    expect(b).toHaveBeenCalledTimes(2); // global listeners are removed by off_global only
    e.off_global();
    e.emit('z');
    expect(b).toHaveBeenCalledTimes(2);
  });

  it('calls listeners with `this` = context, else the global object', () => {
    const e = new Emitter();
    const ctx = { n: 1 };
    const seen: unknown[] = [];
    e.on(
      'x',
      function (this: unknown) {
        seen.push(this);
      },
      ctx,
    );
    e.on('x', function (this: unknown) {
      seen.push(this);
    });
    e.emit('x');
    expect(seen).toEqual([ctx, globalThis]);
  });

  it('a throwing listener neither stops the others nor the emitter; its error is re-thrown asynchronously', () => {
    vi.useFakeTimers();
    const e = new Emitter();
    const after = vi.fn();
    e.on('x', () => {
      throw new Error('boom');
    });
    e.on('x', after);
    expect(() => e.emit('x', 1)).not.toThrow();
    expect(after).toHaveBeenCalledWith(1);
    expect(() => vi.runAllTimers()).toThrow('boom');
  });

  it('tolerates listeners that unbind themselves during emit', () => {
    const e = new Emitter();
    const calls: string[] = [];
    const once = () => {
      calls.push('once');
      e.off('x', once);
    };
    e.on('x', once).on('x', () => calls.push('always'));
    e.emit('x').emit('x');
    expect(calls).toEqual(['once', 'always', 'always']);
  });
});
