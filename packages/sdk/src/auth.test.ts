import Pusher from 'pusher';
import { describe, expect, it } from 'vitest';
import { Api } from './api.js';
import { HeraldApiError, HeraldApiErrorCode } from './errors.js';

/** Credentials of Pusher's own worked examples (docs/reference/auth.md#worked-examples). */
const KEY = '278d425bdf160c739803';
const SECRET = '7ad3773142a6692b25b8';
const MASTER_B64 = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
const SOCKET = '1234.1234';

const api = new Api('http://127.0.0.1:1', KEY, SECRET, { appId: '3', encryptionMasterKeyBase64: MASTER_B64 });
const official = new Pusher({ appId: '3', key: KEY, secret: SECRET, host: '127.0.0.1', encryptionMasterKeyBase64: MASTER_B64 });

const invalid = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HeraldApiError);
    expect((err as HeraldApiError).code).toBe(HeraldApiErrorCode.InvalidArgument);
    expect((err as HeraldApiError).status).toBe(0);
    return (err as HeraldApiError).message;
  }
  throw new Error('expected a HeraldApiError');
};

describe('authorizeChannel: same result as pusher-http-node', () => {
  it.each([
    ['private-foobar', undefined],
    ['private-cache-prices', undefined],
    ['presence-foobar', { user_id: '10', user_info: { name: 'Mr. Pusher' } }],
    ['presence-foobar', { user_id: 10, user_info: { name: 'Mr. Pusher' } }],
    ['presence-foobar', { user_id: 'u-1' }],
    ['presence-foobar', undefined],
    ['presence-room;a=b@c,d', { user_id: 'é ✓', user_info: { emoji: '🎉', slash: 'a/b' } }],
    ['private-encrypted-foobar', undefined],
  ] as const)('%s with %j', (channel, data) => {
    const ours = api.authorizeChannel(SOCKET, channel, data);
    expect(ours).toEqual(official.authorizeChannel(SOCKET, channel, data as never));
    expect(JSON.parse(JSON.stringify(ours))).toEqual(ours);
  });

  it('reproduces the spec vectors (docs/reference/auth.md#worked-examples)', () => {
    expect(api.authorizeChannel(SOCKET, 'private-foobar')).toEqual({
      auth: `${KEY}:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4`,
    });
    expect(api.authorizeChannel(SOCKET, 'presence-foobar', { user_id: '10', user_info: { name: 'Mr. Pusher' } })).toEqual({
      auth: `${KEY}:48dac51d2d7569e1e9c0f48c227d4b26f238fa68e5c0bb04222c966909c4f7c4`,
      channel_data: '{"user_id":"10","user_info":{"name":"Mr. Pusher"}}',
    });
    expect(api.authorizeChannel(SOCKET, 'presence-foobar', { user_id: 10, user_info: { name: 'Mr. Pusher' } }).auth).toBe(
      `${KEY}:afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c`,
    );
    expect(api.authorizeChannel(SOCKET, 'private-encrypted-foobar')).toEqual({
      auth: `${KEY}:e6a18892d037c5d5e76a2265df4f086ffc38631605530dfd214aa5bff495f533`,
      shared_secret: 'g3Au6SZ+UCU+IMfFsFva0rq+Gi4tzSHR6WCcWZbS9sY=',
    });
  });

  it('refuses what cannot work on the server', () => {
    expect(invalid(() => api.authorizeChannel('1234', 'private-x'))).toMatch(/socket id/);
    expect(invalid(() => api.authorizeChannel('1.2', 'private-with space'))).toMatch(/channel name/);
    expect(invalid(() => api.authorizeChannel('1.2', `private-${'x'.repeat(200)}`))).toMatch(/channel name/);
    expect(invalid(() => api.authorizeChannel('1.2', 'public-room'))).toMatch(/needs no authorization/);
    expect(invalid(() => api.authorizeChannel('1.2', 'private-x', { user_id: '1' }))).toMatch(/only signed for presence/);
    expect(invalid(() => api.authorizeChannel('1.2', 'presence-x', { user_id: '' }))).toMatch(/user_id/);
    expect(invalid(() => api.authorizeChannel('1.2', 'presence-x', {} as never))).toMatch(/user_id/);
  });

  it('an encrypted channel without a master key is an error, as in pusher-http-node', () => {
    const plain = new Api('http://127.0.0.1:1', KEY, SECRET, { appId: '3' });
    expect(invalid(() => plain.authorizeChannel(SOCKET, 'private-encrypted-x'))).toMatch(/encryptionMasterKeyBase64/);
    expect(() => new Pusher({ appId: '3', key: KEY, secret: SECRET, host: '127.0.0.1' }).authorizeChannel(SOCKET, 'private-encrypted-x')).toThrow();
  });
});

describe('authenticateUser: same result as pusher-http-node', () => {
  it.each([
    [{ id: '12345' }],
    [{ id: '10', user_info: { name: 'Mr. Pusher' }, watchlist: ['11', '12'] }],
    [{ id: 'auth0|5f7c', user_info: { tags: ['a/b', 'ü'] } }],
  ])('%j', (user) => {
    expect(api.authenticateUser(SOCKET, user)).toEqual(official.authenticateUser(SOCKET, user));
  });

  it('reproduces the spec vectors (docs/reference/auth.md#worked-examples)', () => {
    expect(api.authenticateUser(SOCKET, { id: '12345' })).toEqual({
      auth: `${KEY}:4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba`,
      user_data: '{"id":"12345"}',
    });
    expect(api.authenticateUser(SOCKET, { id: '10', user_info: { name: 'Mr. Pusher' }, watchlist: ['11', '12'] }).auth).toBe(
      `${KEY}:8afc379e8177993784c7b2659503b3011499c8eaae13d776335ad54e9c1fab20`,
    );
  });

  it('refuses a missing id, a bad socket id and a bad watchlist', () => {
    expect(invalid(() => api.authenticateUser(SOCKET, { id: '' }))).toMatch(/id/);
    expect(invalid(() => api.authenticateUser(SOCKET, { id: 7 } as never))).toMatch(/id/);
    expect(invalid(() => api.authenticateUser('abc', { id: '1' }))).toMatch(/socket id/);
    expect(invalid(() => api.authenticateUser(SOCKET, { id: '1', watchlist: 'x' as never }))).toMatch(/watchlist/);
  });
});

describe('webman/push PHP names: socketAuth and presenceAuth', () => {
  it('socketAuth returns the auth JSON string, channel_data signed as given', () => {
    expect(api.socketAuth('private-foobar', SOCKET)).toBe(`{"auth":"${KEY}:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"}`);
    const data = '{"user_id":"10","user_info":{"name":"Mr. Pusher"}}';
    expect(JSON.parse(api.socketAuth('presence-foobar', SOCKET, data))).toEqual({
      auth: `${KEY}:48dac51d2d7569e1e9c0f48c227d4b26f238fa68e5c0bb04222c966909c4f7c4`,
      channel_data: data,
    });
    // Key order as PHP's array: auth first.
    expect(api.socketAuth('presence-foobar', SOCKET, data).startsWith('{"auth":')).toBe(true);
  });

  it('presenceAuth signs {"user_id","user_info"} and omits a null user_info', () => {
    expect(JSON.parse(api.presenceAuth('presence-foobar', SOCKET, '10', { name: 'Mr. Pusher' }))).toEqual(
      official.authorizeChannel(SOCKET, 'presence-foobar', { user_id: '10', user_info: { name: 'Mr. Pusher' } }),
    );
    expect(JSON.parse(api.presenceAuth('presence-foobar', SOCKET, 10)).channel_data).toBe('{"user_id":10}');
  });

  it('validates like the PHP Api: channel and socket id', () => {
    expect(invalid(() => api.socketAuth('bad channel', SOCKET))).toMatch(/channel name/);
    expect(invalid(() => api.socketAuth('private-x', '1.x'))).toMatch(/socket id/);
    expect(invalid(() => api.presenceAuth('presence-x', SOCKET, ''))).toMatch(/userId/);
  });
});
