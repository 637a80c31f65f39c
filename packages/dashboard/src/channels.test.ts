import { describe, expect, it } from 'vitest';
import { channelType, prettyJson } from './channels.js';

describe('channelType', () => {
  it('reads the type from the prefix, cache channels included', () => {
    expect(channelType('my-channel')).toEqual({ type: 'public', cache: false });
    expect(channelType('private-x')).toEqual({ type: 'private', cache: false });
    expect(channelType('presence-room')).toEqual({ type: 'presence', cache: false });
    expect(channelType('private-encrypted-x')).toEqual({ type: 'encrypted', cache: false });
    expect(channelType('cache-prices')).toEqual({ type: 'cache', cache: true });
    expect(channelType('private-cache-prices')).toEqual({ type: 'private', cache: true });
    expect(channelType('presence-cache-room')).toEqual({ type: 'presence', cache: true });
    expect(channelType('private-encrypted-cache-x')).toEqual({ type: 'encrypted', cache: true });
  });

  it('indents JSON and leaves other text alone', () => {
    expect(prettyJson('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(prettyJson('hello')).toBe('hello');
    expect(prettyJson({ name: 'Ada' })).toBe('{\n  "name": "Ada"\n}');
    expect(prettyJson(undefined)).toBe('');
  });
});
