import { describe, expect, it } from 'vitest';
import { formatHash, parseHash } from './router.js';

describe('hash router', () => {
  it('parses a page and its query', () => {
    expect(parseHash('#/console?app=42&channel=presence-room')).toEqual({ page: 'console', query: { app: '42', channel: 'presence-room' } });
    expect(parseHash('#/apps')).toEqual({ page: 'apps', query: {} });
    expect(parseHash('#/apps/')).toEqual({ page: 'apps', query: {} });
  });

  it('falls back to the overview for an empty or unknown hash', () => {
    expect(parseHash('')).toEqual({ page: 'overview', query: {} });
    expect(parseHash('#')).toEqual({ page: 'overview', query: {} });
    expect(parseHash('#/nope?app=1')).toEqual({ page: 'overview', query: { app: '1' } });
  });

  it('formats what it parses, leaving empty values out', () => {
    const hash = formatHash({ page: 'channels', query: { channel: 'private-a b&c', app: 'x', prefix: '' } });
    expect(hash).toBe('#/channels?app=x&channel=private-a+b%26c');
    expect(parseHash(hash)).toEqual({ page: 'channels', query: { app: 'x', channel: 'private-a b&c' } });
    expect(formatHash({ page: 'overview', query: {} })).toBe('#/overview');
  });
});
