import { describe, expect, it } from 'vitest';
import { PLAIN_SUBSCRIPTION, Subscriptions } from './socket-data.js';

const sorted = (s: Subscriptions) => [...s].sort(([a], [b]) => a.localeCompare(b));

describe('a socket’s subscriptions', () => {
  it('behave as a Map of channel names, whichever one is kept in the first fields', () => {
    const s = new Subscriptions();
    expect(s.size).toBe(0);
    expect(s.get('a')).toBeUndefined();
    expect(s.has('a')).toBe(false);
    expect(s.delete('a')).toBe(false);
    const member = { presenceUserId: 'u1' };
    s.set('a', PLAIN_SUBSCRIPTION);
    s.set('presence-b', member);
    s.set('c', PLAIN_SUBSCRIPTION);
    expect(s.size).toBe(3);
    expect(s.get('presence-b')).toBe(member);
    expect(sorted(s)).toEqual([
      ['a', PLAIN_SUBSCRIPTION],
      ['c', PLAIN_SUBSCRIPTION],
      ['presence-b', member],
    ]);
    // Setting a channel held already replaces its subscription, wherever it is kept: never twice.
    const again = { presenceUserId: 'u2' };
    s.set('presence-b', again);
    s.set('a', PLAIN_SUBSCRIPTION);
    expect(s.size).toBe(3);
    expect(s.get('presence-b')).toBe(again);
    // The first one deleted: a channel held in the Map set again is still held once.
    expect(s.delete('a')).toBe(true);
    expect(s.has('a')).toBe(false);
    s.set('c', PLAIN_SUBSCRIPTION);
    expect(s.size).toBe(2);
    expect(s.names().sort()).toEqual(['c', 'presence-b']);
    // A new channel takes the free first place.
    s.set('d', PLAIN_SUBSCRIPTION);
    expect(s.names().sort()).toEqual(['c', 'd', 'presence-b']);
    expect(s.delete('c')).toBe(true);
    expect(s.delete('c')).toBe(false);
    expect(s.delete('presence-b')).toBe(true);
    expect(s.delete('d')).toBe(true);
    expect(s.size).toBe(0);
    expect([...s]).toEqual([]);
  });

  it('names() is a copy: the subscriptions can be deleted while going through it', () => {
    const s = new Subscriptions();
    for (const c of ['a', 'b', 'c', 'd']) s.set(c, PLAIN_SUBSCRIPTION);
    for (const c of s.names()) s.delete(c);
    expect(s.size).toBe(0);
  });

  it('the subscription shared by every plain channel cannot be changed through one socket', () => {
    expect(() => {
      (PLAIN_SUBSCRIPTION as { partialMembers?: boolean }).partialMembers = true;
    }).toThrow(TypeError);
    expect(PLAIN_SUBSCRIPTION).toEqual({});
  });
});
