import { createHash, createHmac } from 'node:crypto';
import Pusher from 'pusher';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { encodeChannelEvent } from './encode.js';
import { channelAuthString, hmacSha256Hex, md5Hex, safeEqual, signChannel, signUser, signWebhook, userAuthString, verifyAuthValue } from './signature.js';

// Credentials of every vector in docs/reference/auth.md#worked-examples and docs/reference/webhooks.md#worked-examples.
const KEY = '278d425bdf160c739803';
const SECRET = '7ad3773142a6692b25b8';
const APP = { key: KEY, secret: SECRET };
const SOCKET = '1234.1234';
const MASTER_KEY_B64 = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';

const pusher = new Pusher({ appId: '3', key: KEY, secret: SECRET, cluster: 'mt1', encryptionMasterKeyBase64: MASTER_KEY_B64 });

describe('hmacSha256Hex / md5Hex / safeEqual', () => {
  it('hmacSha256Hex is lowercase hex HMAC-SHA256 keyed by the secret', () => {
    const expected = createHmac('sha256', SECRET).update('abc').digest('hex');
    expect(hmacSha256Hex(SECRET, 'abc')).toBe(expected);
    expect(hmacSha256Hex(SECRET, Buffer.from('abc'))).toBe(expected);
    expect(hmacSha256Hex(SECRET, 'abc')).toMatch(/^[0-9a-f]{64}$/);
    expect(hmacSha256Hex('other', 'abc')).not.toBe(expected);
  });

  it('md5Hex hashes strings as UTF-8 and buffers as bytes', () => {
    expect(md5Hex('')).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(md5Hex('{}')).toBe('99914b932bd37a50b983c5e7c90ae93b');
    expect(md5Hex('é')).toBe(createHash('md5').update(Buffer.from('é', 'utf8')).digest('hex'));
    expect(md5Hex(Buffer.from('{}'))).toBe('99914b932bd37a50b983c5e7c90ae93b');
  });

  it('safeEqual compares contents and lengths', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('', '')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('abcd', 'abc')).toBe(false);
    expect(safeEqual('abc', 'ABC')).toBe(false);
    // Same UTF-16 length, different UTF-8 length: must not throw.
    expect(safeEqual('é', 'e')).toBe(false);
  });
});

describe('strings to sign (docs/reference/auth.md#what-is-signed)', () => {
  it('channel, presence and user strings', () => {
    expect(channelAuthString(SOCKET, 'private-foobar')).toBe('1234.1234:private-foobar');
    expect(channelAuthString(SOCKET, 'presence-foobar', '{"user_id":"10"}')).toBe('1234.1234:presence-foobar:{"user_id":"10"}');
    // An empty channel_data is still appended (only undefined means "no channel_data").
    expect(channelAuthString(SOCKET, 'presence-foobar', '')).toBe('1234.1234:presence-foobar:');
    expect(userAuthString(SOCKET, '{"id":"12345"}')).toBe('1234.1234::user::{"id":"12345"}');
  });
});

describe('docs/reference/auth.md worked examples', () => {
  it('presence channel without channel_data (the socket has signed in)', () => {
    const toSign = channelAuthString(SOCKET, 'presence-foobar');
    expect(toSign).toBe('1234.1234:presence-foobar');
    const auth = signChannel(KEY, SECRET, SOCKET, 'presence-foobar');
    expect(auth).toBe('278d425bdf160c739803:71506e66e7fdca106571b8999a849ad34245bc653772e51e0026c1a2475b92ba');
    expect(verifyAuthValue(auth, APP, toSign, 'presence-foobar')).toEqual({ ok: true });
  });

  it('private channel', () => {
    const toSign = channelAuthString(SOCKET, 'private-foobar');
    expect(toSign).toBe('1234.1234:private-foobar');
    expect(hmacSha256Hex(SECRET, toSign)).toBe('58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4');
    const auth = signChannel(KEY, SECRET, SOCKET, 'private-foobar');
    expect(JSON.stringify({ auth })).toBe('{"auth":"278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"}');
    expect(verifyAuthValue(auth, APP, toSign, 'private-foobar')).toEqual({ ok: true });
  });

  it('presence channel, with the exact 50-byte channel_data', () => {
    const channelData = '{"user_id":"10","user_info":{"name":"Mr. Pusher"}}';
    expect(channelData).toHaveLength(50);
    const toSign = channelAuthString(SOCKET, 'presence-foobar', channelData);
    expect(toSign).toBe('1234.1234:presence-foobar:{"user_id":"10","user_info":{"name":"Mr. Pusher"}}');
    expect(hmacSha256Hex(SECRET, toSign)).toBe('48dac51d2d7569e1e9c0f48c227d4b26f238fa68e5c0bb04222c966909c4f7c4');
    const auth = signChannel(KEY, SECRET, SOCKET, 'presence-foobar', channelData);
    expect(JSON.stringify({ auth, channel_data: channelData })).toBe(
      '{"auth":"278d425bdf160c739803:48dac51d2d7569e1e9c0f48c227d4b26f238fa68e5c0bb04222c966909c4f7c4","channel_data":"{\\"user_id\\":\\"10\\",\\"user_info\\":{\\"name\\":\\"Mr. Pusher\\"}}"}',
    );
    expect(verifyAuthValue(auth, APP, toSign, 'presence-foobar')).toEqual({ ok: true });
  });

  it('sensitivity: numeric user_id and "Mr. Channels" give different digests', () => {
    const numeric = '{"user_id":10,"user_info":{"name":"Mr. Pusher"}}';
    const channels = '{"user_id":10,"user_info":{"name":"Mr. Channels"}}';
    expect(hmacSha256Hex(SECRET, channelAuthString(SOCKET, 'presence-foobar', numeric))).toBe(
      'afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c',
    );
    expect(hmacSha256Hex(SECRET, channelAuthString(SOCKET, 'presence-foobar', channels))).toBe(
      '31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80',
    );
    // The presence auth (string user_id) must not verify against the numeric-id channel_data, and vice versa.
    const stringIdAuth = `${KEY}:48dac51d2d7569e1e9c0f48c227d4b26f238fa68e5c0bb04222c966909c4f7c4`;
    expect(verifyAuthValue(stringIdAuth, APP, channelAuthString(SOCKET, 'presence-foobar', numeric), 'presence-foobar').ok).toBe(false);
    // Pusher's doc trap: the afaed369… digest does not belong to the "Mr. Channels" JSON.
    const docAuth = `${KEY}:afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c`;
    expect(verifyAuthValue(docAuth, APP, channelAuthString(SOCKET, 'presence-foobar', channels), 'presence-foobar').ok).toBe(false);
    expect(verifyAuthValue(docAuth, APP, channelAuthString(SOCKET, 'presence-foobar', numeric), 'presence-foobar').ok).toBe(true);
  });

  it('re-serialised channel_data (different spacing) does not verify', () => {
    const sent = '{"user_id":"10","user_info":{"name":"Mr. Pusher"}}';
    const reserialised = JSON.stringify(JSON.parse(sent), null, 1);
    const auth = signChannel(KEY, SECRET, SOCKET, 'presence-foobar', sent);
    expect(verifyAuthValue(auth, APP, channelAuthString(SOCKET, 'presence-foobar', reserialised), 'presence-foobar').ok).toBe(false);
  });

  it('presence without channel_data is signed like a private channel', () => {
    const auth = signChannel(KEY, SECRET, SOCKET, 'presence-foobar');
    expect(auth).toBe(`${KEY}:${hmacSha256Hex(SECRET, '1234.1234:presence-foobar')}`);
    expect(verifyAuthValue(auth, APP, channelAuthString(SOCKET, 'presence-foobar'), 'presence-foobar')).toEqual({ ok: true });
  });

  it('user authentication', () => {
    const userData = '{"id":"12345"}';
    const toSign = userAuthString(SOCKET, userData);
    expect(toSign).toBe('1234.1234::user::{"id":"12345"}');
    expect(hmacSha256Hex(SECRET, toSign)).toBe('4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba');
    const auth = signUser(KEY, SECRET, SOCKET, userData);
    expect(JSON.stringify({ auth, user_data: userData })).toBe(
      '{"auth":"278d425bdf160c739803:4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba","user_data":"{\\"id\\":\\"12345\\"}"}',
    );
    expect(verifyAuthValue(auth, APP, toSign, 'user')).toEqual({ ok: true });
  });

  it('richer user_data with user_info and watchlist', () => {
    const userData = '{"id":"10","user_info":{"name":"Mr. Pusher"},"watchlist":["11","12"]}';
    const toSign = userAuthString(SOCKET, userData);
    expect(toSign).toBe('1234.1234::user::{"id":"10","user_info":{"name":"Mr. Pusher"},"watchlist":["11","12"]}');
    expect(hmacSha256Hex(SECRET, toSign)).toBe('8afc379e8177993784c7b2659503b3011499c8eaae13d776335ad54e9c1fab20');
    expect(verifyAuthValue(signUser(KEY, SECRET, SOCKET, userData), APP, toSign, 'user')).toEqual({ ok: true });
  });

  it('private-encrypted channel authorization and shared_secret derivation', () => {
    const toSign = channelAuthString(SOCKET, 'private-encrypted-foobar');
    expect(toSign).toBe('1234.1234:private-encrypted-foobar');
    expect(hmacSha256Hex(SECRET, toSign)).toBe('e6a18892d037c5d5e76a2265df4f086ffc38631605530dfd214aa5bff495f533');

    const master = Buffer.from(MASTER_KEY_B64, 'base64');
    expect(master.toString('hex')).toBe('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
    const shared = createHash('sha256')
      .update(Buffer.concat([Buffer.from('private-encrypted-foobar'), master]))
      .digest();
    expect(shared.toString('hex')).toBe('83702ee9267e50253e20c7c5b05bdad2babe1a2e2dcd21d1e9609c5996d2f6c6');
    expect(shared.toString('base64')).toBe('g3Au6SZ+UCU+IMfFsFva0rq+Gi4tzSHR6WCcWZbS9sY=');

    const auth = signChannel(KEY, SECRET, SOCKET, 'private-encrypted-foobar');
    expect(JSON.stringify({ auth, shared_secret: shared.toString('base64') })).toBe(
      '{"auth":"278d425bdf160c739803:e6a18892d037c5d5e76a2265df4f086ffc38631605530dfd214aa5bff495f533","shared_secret":"g3Au6SZ+UCU+IMfFsFva0rq+Gi4tzSHR6WCcWZbS9sY="}',
    );
    // shared_secret is not covered by the signature.
    expect(verifyAuthValue(auth, APP, toSign, 'private-encrypted-foobar')).toEqual({ ok: true });
  });

  it('encrypted payload passes through encodeChannelEvent untouched', () => {
    const shared = Buffer.from('g3Au6SZ+UCU+IMfFsFva0rq+Gi4tzSHR6WCcWZbS9sY=', 'base64');
    const nonce = Uint8Array.from({ length: 24 }, (_, i) => i);
    expect(Buffer.from(nonce).toString('base64')).toBe('AAECAwQFBgcICQoLDA0ODxAREhMUFRYX');
    const plaintext = Buffer.from('{"message":"hello world"}', 'utf8');
    expect(plaintext).toHaveLength(25);
    const box = nacl.secretbox(plaintext, nonce, shared);
    expect(box).toHaveLength(41);
    expect(Buffer.from(box).toString('base64')).toBe('JudJzMunSIiVrODAo+lfpUsGJzgoj596PYEg0Ekt7UbHsg5iiqAaZxI=');

    const data = '{"nonce":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYX","ciphertext":"JudJzMunSIiVrODAo+lfpUsGJzgoj596PYEg0Ekt7UbHsg5iiqAaZxI="}';
    expect(encodeChannelEvent('my-event', 'private-encrypted-foobar', data)).toBe(
      '{"event":"my-event","channel":"private-encrypted-foobar","data":"{\\"nonce\\":\\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYX\\",\\"ciphertext\\":\\"JudJzMunSIiVrODAo+lfpUsGJzgoj596PYEg0Ekt7UbHsg5iiqAaZxI=\\"}"}',
    );
  });
});

describe('verifyAuthValue failures (docs/reference/auth.md#channel-authorization)', () => {
  const toSign = channelAuthString(SOCKET, 'private-foobar');
  const good = signChannel(KEY, SECRET, SOCKET, 'private-foobar');

  it('missing or non-string auth', () => {
    for (const auth of [undefined, null, '', 42, {}, ['a:b']]) {
      expect(verifyAuthValue(auth, APP, toSign, 'private-foobar')).toEqual({
        ok: false,
        reason: 'Auth info required to subscribe to private-foobar',
      });
    }
  });

  it('malformed auth (no colon, leading colon, two colons, sign-in doc format)', () => {
    const sig = good.slice(KEY.length + 1);
    for (const auth of [sig, `:${sig}`, `${KEY}:${sig}:x`, `${KEY}::user::${sig}`]) {
      expect(verifyAuthValue(auth, APP, toSign, 'private-foobar')).toEqual({
        ok: false,
        reason: "Auth value for subscription to private-foobar is invalid: should be of format 'key:signature'",
      });
    }
  });

  it('wrong key', () => {
    const sig = good.slice(KEY.length + 1);
    expect(verifyAuthValue(`otherkey:${sig}`, APP, toSign, 'private-foobar')).toEqual({
      ok: false,
      reason: "Invalid key in subscription auth data: 'otherkey'",
    });
  });

  it('wrong signature: names the string to sign', () => {
    const bad = `${KEY}:${'0'.repeat(64)}`;
    const r = verifyAuthValue(bad, APP, toSign, 'private-foobar');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toBe(`Invalid signature: Expected HMAC SHA256 hex digest of 1234.1234:private-foobar, but got ${'0'.repeat(64)}`);
  });

  it('rejects upper-cased, truncated and empty signatures', () => {
    const sig = good.slice(KEY.length + 1);
    expect(verifyAuthValue(`${KEY}:${sig.toUpperCase()}`, APP, toSign, 'private-foobar').ok).toBe(false);
    expect(verifyAuthValue(`${KEY}:${sig.slice(0, -1)}`, APP, toSign, 'private-foobar').ok).toBe(false);
    expect(verifyAuthValue(`${KEY}:`, APP, toSign, 'private-foobar').ok).toBe(false);
  });

  it('auth issued for another socket or channel does not verify (no replay)', () => {
    expect(verifyAuthValue(good, APP, channelAuthString('1234.1235', 'private-foobar'), 'private-foobar').ok).toBe(false);
    expect(verifyAuthValue(good, APP, channelAuthString(SOCKET, 'private-foobaz'), 'private-foobaz').ok).toBe(false);
  });

  it('the wrong secret does not verify', () => {
    const forged = signChannel(KEY, 'not-the-secret', SOCKET, 'private-foobar');
    expect(verifyAuthValue(forged, APP, toSign, 'private-foobar').ok).toBe(false);
  });
});

describe('cross-check with the official pusher npm package (pusher-http-node 5.3.4)', () => {
  it('authorizeChannel (private) is accepted by verifyAuthValue and matches signChannel', () => {
    const r = pusher.authorizeChannel(SOCKET, 'private-foobar');
    expect(r.auth).toBe(signChannel(KEY, SECRET, SOCKET, 'private-foobar'));
    expect(verifyAuthValue(r.auth, APP, channelAuthString(SOCKET, 'private-foobar'), 'private-foobar')).toEqual({ ok: true });
  });

  it('authorizeChannel (presence, numeric user_id) gives the numeric-id digest of docs/reference/auth.md#worked-examples', () => {
    const r = pusher.authorizeChannel(SOCKET, 'presence-foobar', { user_id: 10 as unknown as string, user_info: { name: 'Mr. Pusher' } });
    expect(r.channel_data).toBe('{"user_id":10,"user_info":{"name":"Mr. Pusher"}}');
    expect(r.auth).toBe(`${KEY}:afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c`);
    const toSign = channelAuthString(SOCKET, 'presence-foobar', r.channel_data);
    expect(verifyAuthValue(r.auth, APP, toSign, 'presence-foobar')).toEqual({ ok: true });
  });

  it('authorizeChannel (presence, many shapes) always verifies over the channel_data it returned', () => {
    const cases = [
      { user_id: '10', user_info: { name: 'Mr. Pusher' } },
      { user_id: 'ü/ñ', user_info: { name: 'Zoë "quote" \\ slash /', tags: ['a', 'b'] } },
      { user_id: '42' },
    ];
    for (const data of cases) {
      const r = pusher.authorizeChannel('98765.4321', 'presence-room-1', data);
      expect(r.channel_data).toBeDefined();
      const toSign = channelAuthString('98765.4321', 'presence-room-1', r.channel_data);
      expect(verifyAuthValue(r.auth, APP, toSign, 'presence-room-1')).toEqual({ ok: true });
      // ...and not over a different socket id.
      expect(verifyAuthValue(r.auth, APP, channelAuthString('98765.4322', 'presence-room-1', r.channel_data), 'presence-room-1').ok).toBe(false);
    }
  });

  it('authorizeChannel (private-encrypted) auth verifies and its shared_secret is the value of docs/reference/auth.md#worked-examples', () => {
    const r = pusher.authorizeChannel(SOCKET, 'private-encrypted-foobar');
    expect(r.auth).toBe(`${KEY}:e6a18892d037c5d5e76a2265df4f086ffc38631605530dfd214aa5bff495f533`);
    expect(r.shared_secret).toBe('g3Au6SZ+UCU+IMfFsFva0rq+Gi4tzSHR6WCcWZbS9sY=');
    expect(verifyAuthValue(r.auth, APP, channelAuthString(SOCKET, 'private-encrypted-foobar'), 'private-encrypted-foobar')).toEqual({ ok: true });
  });

  it('authenticateUser is accepted by verifyAuthValue and matches signUser', () => {
    for (const userData of [{ id: '12345' }, { id: '10', user_info: { name: 'Mr. Pusher' }, watchlist: ['11', '12'] }]) {
      const r = pusher.authenticateUser(SOCKET, userData);
      expect(r.auth).toBe(signUser(KEY, SECRET, SOCKET, r.user_data));
      expect(verifyAuthValue(r.auth, APP, userAuthString(SOCKET, r.user_data), 'user')).toEqual({ ok: true });
    }
    const first = pusher.authenticateUser(SOCKET, { id: '12345' });
    expect(first.auth).toBe(`${KEY}:4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba`);
  });
});

describe('webhook signatures (docs/reference/webhooks.md#worked-examples)', () => {
  const W1 = '{"time_ms":1700000000000,"events":[{"name":"channel_occupied","channel":"my-channel"}]}';
  const W2 =
    '{"time_ms":1700000000123,"events":[{"name":"member_added","channel":"presence-foobar","user_id":"10"},{"name":"client_event","channel":"presence-foobar","event":"client-typing","data":"{\\"typing\\":true}","socket_id":"1234.1234","user_id":"10"}]}';

  it('W1', () => {
    expect(signWebhook(SECRET, W1)).toBe('cb2683f8aaa9de8cdbc72838077bd6ac7c3e64c57fe83fb7b13812a1bd5df142');
    expect(signWebhook(SECRET, Buffer.from(W1))).toBe('cb2683f8aaa9de8cdbc72838077bd6ac7c3e64c57fe83fb7b13812a1bd5df142');
  });

  it('W2', () => {
    expect(signWebhook(SECRET, W2)).toBe('222d643a88fce856e42447e965113462e773d3b13532f5aa525a053fb50f69b2');
  });

  it('pusher-http-node validates our signature only with Content-Type exactly application/json', () => {
    for (const body of [W1, W2]) {
      const headers = { 'x-pusher-key': KEY, 'x-pusher-signature': signWebhook(SECRET, body), 'content-type': 'application/json' };
      expect(pusher.webhook({ headers, rawBody: body }).isValid()).toBe(true);
      expect(pusher.webhook({ headers: { ...headers, 'content-type': 'application/json; charset=utf-8' }, rawBody: body }).isValid()).toBe(false);
      // A single changed byte invalidates the signature.
      expect(pusher.webhook({ headers, rawBody: body.replace('1700000000', '1700000001') }).isValid()).toBe(false);
    }
  });
});
