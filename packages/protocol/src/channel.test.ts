import { describe, expect, it } from 'vitest';
import {
  USER_CHANNEL_PREFIX,
  channelKind,
  isPresenceChannel,
  isValidChannelName,
  isValidEventName,
  isValidSocketId,
  userChannelName,
  userIdOfChannel,
  type ChannelKind,
} from './channel.js';

const K = (k: Partial<ChannelKind>): ChannelKind => ({
  authorized: false,
  presence: false,
  encrypted: false,
  cache: false,
  user: false,
  clientEvents: false,
  ...k,
});

describe('channelKind (docs/reference/protocol.md#channel-kinds, anchored prefixes in order)', () => {
  it.each<[string, ChannelKind]>([
    ['my-channel', K({})],
    ['private-foobar', K({ authorized: true, clientEvents: true })],
    ['private-cache-x', K({ authorized: true, clientEvents: true, cache: true })],
    ['private-encrypted-foobar', K({ authorized: true, encrypted: true })],
    ['private-encrypted-cache-x', K({ authorized: true, encrypted: true, cache: true })],
    ['presence-foobar', K({ authorized: true, presence: true, clientEvents: true })],
    ['presence-cache-x', K({ authorized: true, presence: true, clientEvents: true, cache: true })],
    ['cache-prices', K({ cache: true })],
    ['#server-to-user-10', K({ user: true })],
  ])('%s', (name, expected) => {
    expect(channelKind(name)).toEqual(expected);
  });

  it('prefixes are anchored: look-alikes are public', () => {
    for (const name of ['my-private-room', 'mycache-x', 'xpresence-foo', 'Private-foo', 'PRESENCE-foo', 'a#server-to-user-10', 'privatefoo', 'presence_foo']) {
      expect(channelKind(name), name).toEqual(K({}));
    }
  });

  it('private-encrypted-cache- is encrypted and cached, not merely private', () => {
    const k = channelKind('private-encrypted-cache-x');
    expect(k.encrypted && k.cache && k.authorized).toBe(true);
    expect(k.presence || k.user).toBe(false);
  });

  it('a channel named after a longer prefix word is not that kind (private-cachex is plain private)', () => {
    expect(channelKind('private-cachex')).toEqual(K({ authorized: true, clientEvents: true }));
    expect(channelKind('private-encryptedx')).toEqual(K({ authorized: true, clientEvents: true }));
  });

  it('kinds are frozen', () => {
    expect(Object.isFrozen(channelKind('private-x'))).toBe(true);
    expect(Object.isFrozen(channelKind('x'))).toBe(true);
  });

  it('isPresenceChannel', () => {
    expect(isPresenceChannel('presence-x')).toBe(true);
    expect(isPresenceChannel('presence-cache-x')).toBe(true);
    expect(isPresenceChannel('private-x')).toBe(false);
    expect(isPresenceChannel('my-presence-x')).toBe(false);
  });
});

describe('user channels', () => {
  it('name <-> id', () => {
    expect(USER_CHANNEL_PREFIX).toBe('#server-to-user-');
    expect(userChannelName('10')).toBe('#server-to-user-10');
    expect(userIdOfChannel('#server-to-user-10')).toBe('10');
    expect(userIdOfChannel('#server-to-user-')).toBe('');
    expect(userIdOfChannel('server-to-user-10')).toBeUndefined();
    expect(userIdOfChannel('private-10')).toBeUndefined();
  });
});

describe('isValidChannelName (docs/reference/protocol.md#channel-kinds)', () => {
  it('accepts the whole Pusher character set', () => {
    for (const name of ['my-channel', 'private-foobar', 'a', 'AZaz09-_=@,.;', 'presence-a,b;c@d=e.f_g', '-', '0']) {
      expect(isValidChannelName(name), name).toBe(true);
    }
  });

  it('rejects other characters', () => {
    for (const name of ['', ' ', 'a b', 'a/b', 'a:b', 'a#b', '#foo', 'é', 'a\n', 'a+b', 'a*b', 'a%2Cb', 'a"b', 'a\u0000']) {
      expect(isValidChannelName(name), JSON.stringify(name)).toBe(false);
    }
  });

  it('rejects non-strings', () => {
    for (const v of [undefined, null, 42, {}, ['a'], true]) expect(isValidChannelName(v)).toBe(false);
  });

  it('accepts up to 200 characters by default, and a custom maximum', () => {
    expect(isValidChannelName('a'.repeat(200))).toBe(true);
    expect(isValidChannelName('a'.repeat(201))).toBe(false);
    expect(isValidChannelName(`private-${'a'.repeat(192)}`)).toBe(true);
    expect(isValidChannelName(`private-${'a'.repeat(193)}`)).toBe(false);
    expect(isValidChannelName('a'.repeat(164), 164)).toBe(true);
    expect(isValidChannelName('a'.repeat(165), 164)).toBe(false);
  });

  it('# only as #server-to-user-{id} with a printable, non-empty id of at most 200 characters', () => {
    expect(isValidChannelName('#server-to-user-10')).toBe(true);
    expect(isValidChannelName('#server-to-user-user@example.com')).toBe(true);
    expect(isValidChannelName(`#server-to-user-${'a'.repeat(200)}`)).toBe(true);
    expect(isValidChannelName(`#server-to-user-${'a'.repeat(201)}`)).toBe(false);
    expect(isValidChannelName('#server-to-user-')).toBe(false);
    // User ids come from sign-in data (Auth0 ids contain `|`): any printable text, no control characters.
    expect(isValidChannelName('#server-to-user-auth0|5f7c8ec7c33c6c004bbafe82')).toBe(true);
    expect(isValidChannelName('#server-to-user-a b')).toBe(true);
    expect(isValidChannelName('#server-to-user-a\nb')).toBe(false);
    expect(isValidChannelName('#server-to-user-a\u0000b')).toBe(false);
    expect(isValidChannelName('#server-to-users-10')).toBe(false);
    expect(isValidChannelName('#private-x')).toBe(false);
    expect(isValidChannelName('##server-to-user-10')).toBe(false);
  });
});

describe('isValidEventName', () => {
  it('non-empty strings up to the maximum', () => {
    expect(isValidEventName('my-event')).toBe(true);
    expect(isValidEventName('e'.repeat(200))).toBe(true);
    expect(isValidEventName('e'.repeat(201))).toBe(false);
    expect(isValidEventName('e'.repeat(11), 10)).toBe(false);
    expect(isValidEventName('')).toBe(false);
    expect(isValidEventName(1)).toBe(false);
    expect(isValidEventName(undefined)).toBe(false);
  });
});

describe('isValidSocketId (docs/reference/protocol.md#connection-established)', () => {
  it('accepts two decimal integers joined by a dot', () => {
    for (const id of ['1234.1234', '8821093874.1938475621', '0.0', '1.2']) expect(isValidSocketId(id), id).toBe(true);
  });

  it('rejects everything else', () => {
    for (const id of [
      'node-a.123',
      '1234',
      '1234.',
      '.1234',
      '1234.1234.1',
      '12a4.1234',
      ' 1234.1234',
      '1234.1234\n',
      '1234,1234',
      '-1.2',
      '1.2e3',
      '',
      '١٢.٣',
    ]) {
      expect(isValidSocketId(id), JSON.stringify(id)).toBe(false);
    }
    for (const v of [undefined, null, 1234.1234, {}]) expect(isValidSocketId(v)).toBe(false);
  });
});
