import { describe, expect, it } from 'vitest';
import { PositionTracker } from './recovery.js';

describe('PositionTracker', () => {
  it('has no position, and sends none, before the server gives one', () => {
    const t = new PositionTracker();
    expect(t.position).toBeUndefined();
    expect(t.positionForSubscribe()).toBeUndefined();
    expect(t.succeeded(undefined, undefined)).toBeUndefined();
    expect(t.position).toBeUndefined();
  });

  it('takes the first answer’s position without reporting anything', () => {
    const t = new PositionTracker();
    t.positionForSubscribe();
    expect(t.succeeded('abcdefgh:5', undefined)).toBeUndefined();
    expect(t.position).toBe('abcdefgh:5');
  });

  it('keeps its own position when recovered (the answer names the last replayed one)', () => {
    const t = new PositionTracker();
    t.succeeded('abcdefgh:5', undefined);
    expect(t.positionForSubscribe()).toBe('abcdefgh:5');
    expect(t.succeeded('abcdefgh:9', { recovered: true })).toEqual({ event: 'pusher:recovered', data: { position: 'abcdefgh:5' } });
    expect(t.position).toBe('abcdefgh:5');
    for (const o of [6, 7, 8, 9]) expect(t.accept(`abcdefgh:${o}`)).toBe(true);
    expect(t.position).toBe('abcdefgh:9');
  });

  it('takes the answer’s position on failure and passes the reason on (unknown reasons too)', () => {
    const t = new PositionTracker();
    t.succeeded('abcdefgh:5', undefined);
    t.positionForSubscribe();
    expect(t.succeeded('abcdefgh:50', { recovered: false, reason: 'too_old' })).toEqual({
      event: 'pusher:recovery_failed',
      data: { reason: 'too_old', position: 'abcdefgh:50' },
    });
    expect(t.position).toBe('abcdefgh:50');
    t.positionForSubscribe();
    expect(t.succeeded(undefined, { recovered: false, reason: 'history_off' })).toEqual({
      event: 'pusher:recovery_failed',
      data: { reason: 'history_off', position: undefined },
    });
    expect(t.position).toBeUndefined();
    expect(t.succeeded('abcdefgh:1', { recovered: false, reason: 'something_new' })?.data).toEqual({ reason: 'something_new', position: 'abcdefgh:1' });
    expect(t.succeeded('abcdefgh:1', { recovered: false })?.data).toEqual({ reason: 'unknown', position: 'abcdefgh:1' });
  });

  it('reports "unsupported" only when the subscribe carried a position and the answer has no recovery', () => {
    const t = new PositionTracker();
    t.succeeded('abcdefgh:5', undefined);
    expect(t.positionForSubscribe()).toBe('abcdefgh:5');
    expect(t.succeeded(undefined, undefined)).toEqual({ event: 'pusher:recovery_failed', data: { reason: 'unsupported', position: undefined } });
    expect(t.positionForSubscribe()).toBeUndefined();
    expect(t.succeeded(undefined, undefined)).toBeUndefined();
  });

  it('drops offsets not past the last one of the same epoch; another epoch starts over', () => {
    const t = new PositionTracker();
    expect(t.accept('abcdefgh:3')).toBe(true);
    expect(t.accept('abcdefgh:3')).toBe(false);
    expect(t.accept('abcdefgh:2')).toBe(false);
    expect(t.accept('abcdefgh:4')).toBe(true);
    expect(t.accept('zzzzzzzz:1')).toBe(true);
    expect(t.accept('abcdefgh:5')).toBe(true); // epochs are not ordered: a change is a change
    expect(t.position).toBe('abcdefgh:5');
  });

  it('treats an invalid position as absent', () => {
    const t = new PositionTracker();
    t.accept('abcdefgh:10');
    for (const bad of [
      'abcdefgh:0',
      'abcdefgh:-1',
      'abcdefgh:01',
      'ABCDEFGH:11',
      'abc:11',
      'abcdefgh',
      'abcdefgh:1.5',
      'abcdefgh:99999999999999999',
      42,
      null,
      {},
    ]) {
      expect(t.accept(bad)).toBe(true);
    }
    expect(t.position).toBe('abcdefgh:10');
    expect(t.succeeded('nonsense', undefined)).toBeUndefined();
    expect(t.position).toBeUndefined();
  });
});
