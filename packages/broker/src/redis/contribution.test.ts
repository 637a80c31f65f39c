import { describe, expect, it } from 'vitest';
import { decodeContribution, encodeContribution, type Contribution } from './contribution.js';

describe('contribution entries', () => {
  it('stores the one-letter kinds that nodes of the previous release read and write', () => {
    expect(encodeContribution({ kind: 'subscription', appId: 'a', channel: 'c', socketId: '1.2' })).toBe('["s","a","c","1.2"]');
    expect(encodeContribution({ kind: 'presence', appId: 'a', channel: 'presence-c', socketId: '1.2' })).toBe('["p","a","presence-c","1.2"]');
    expect(encodeContribution({ kind: 'user', appId: 'a', userId: 'u1', socketId: '1.2' })).toBe('["u","a","u1","1.2"]');
  });

  it('decodes what it encodes', () => {
    const all: Contribution[] = [
      { kind: 'subscription', appId: 'a', channel: 'c', socketId: '1.2' },
      { kind: 'presence', appId: 'a', channel: 'presence-c', socketId: '3.4' },
      { kind: 'user', appId: 'a', userId: 'u1', socketId: '5.6' },
    ];
    for (const c of all) expect(decodeContribution(encodeContribution(c))).toEqual(c);
  });

  it('skips an entry that names no known kind or is not JSON', () => {
    expect(decodeContribution('["x","a","c","1.2"]')).toBeUndefined();
    expect(decodeContribution('not json')).toBeUndefined();
  });
});
