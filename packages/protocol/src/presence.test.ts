import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from './limits.js';
import { MAX_WATCHLIST, parsePresenceData, parseUserData } from './presence.js';

const LIMITS = { maxPresenceUserIdLength: 128, maxPresenceUserInfoBytes: 1024 };

describe('parsePresenceData', () => {
  it('channel_data of docs/reference/auth.md#worked-examples', () => {
    expect(parsePresenceData('{"user_id":"10","user_info":{"name":"Mr. Pusher"}}', LIMITS)).toEqual({
      ok: true,
      member: { userId: '10', userInfo: { name: 'Mr. Pusher' } },
    });
  });

  it('numeric user_id is stringified', () => {
    expect(parsePresenceData('{"user_id":10,"user_info":{"name":"Mr. Pusher"}}', LIMITS)).toEqual({
      ok: true,
      member: { userId: '10', userInfo: { name: 'Mr. Pusher' } },
    });
    expect(parsePresenceData('{"user_id":0}', LIMITS)).toMatchObject({ ok: true, member: { userId: '0' } });
    expect(parsePresenceData('{"user_id":-5}', LIMITS)).toMatchObject({ ok: true, member: { userId: '-5' } });
  });

  it('user_info absent is accepted (PHP omits falsy user_info)', () => {
    const r = parsePresenceData('{"user_id":"10"}', LIMITS);
    expect(r).toEqual({ ok: true, member: { userId: '10', userInfo: undefined } });
  });

  it('missing or invalid user_id is rejected', () => {
    for (const data of [
      '{}',
      '{"user_info":{"name":"x"}}',
      '{"user_id":null}',
      '{"user_id":true}',
      '{"user_id":{"a":1}}',
      '{"user_id":["1"]}',
      '{"userId":"1"}',
    ]) {
      expect(parsePresenceData(data, LIMITS), data).toEqual({ ok: false, reason: 'Invalid channel_data: user_id is required' });
    }
  });

  it('empty or over-long user_id is rejected', () => {
    expect(parsePresenceData('{"user_id":""}', LIMITS)).toMatchObject({ ok: false });
    expect(parsePresenceData(JSON.stringify({ user_id: 'a'.repeat(128) }), LIMITS)).toMatchObject({ ok: true });
    expect(parsePresenceData(JSON.stringify({ user_id: 'a'.repeat(129) }), LIMITS)).toEqual({
      ok: false,
      reason: 'Invalid channel_data: user_id must be 1 to 128 characters',
    });
  });

  it('user_info over the byte limit is rejected; at the limit accepted (UTF-8 bytes, serialised)', () => {
    // {"n":"…"} = 8 bytes of envelope.
    const at = { n: 'a'.repeat(1024 - 8) };
    expect(Buffer.byteLength(JSON.stringify(at))).toBe(1024);
    expect(parsePresenceData(JSON.stringify({ user_id: '1', user_info: at }), LIMITS)).toMatchObject({ ok: true });
    const over = { n: 'a'.repeat(1024 - 7) };
    expect(parsePresenceData(JSON.stringify({ user_id: '1', user_info: over }), LIMITS)).toEqual({
      ok: false,
      reason: 'Invalid channel_data: user_info is over 1024 bytes',
      overLimit: true,
    });
    // 600 × 'é' is 600 characters but 1200 bytes.
    expect(parsePresenceData(JSON.stringify({ user_id: '1', user_info: 'é'.repeat(600) }), LIMITS)).toMatchObject({ ok: false, overLimit: true });
  });

  it('honours custom limits', () => {
    const small = { maxPresenceUserIdLength: 3, maxPresenceUserInfoBytes: 10 };
    expect(parsePresenceData('{"user_id":"1234"}', small)).toMatchObject({ ok: false });
    expect(parsePresenceData('{"user_id":1234}', small)).toMatchObject({ ok: false });
    expect(parsePresenceData('{"user_id":"123","user_info":"12345678"}', small)).toMatchObject({ ok: true });
    expect(parsePresenceData('{"user_id":"123","user_info":"123456789"}', small)).toMatchObject({ ok: false });
  });

  it('any JSON user_info is accepted within the limit', () => {
    for (const info of ['null', '"text"', '42', '[1,2]', '{"a":{"b":[true]}}']) {
      const r = parsePresenceData(`{"user_id":"1","user_info":${info}}`, LIMITS);
      expect(r).toEqual({ ok: true, member: { userId: '1', userInfo: JSON.parse(info) } });
    }
  });

  it('not JSON / not an object is rejected', () => {
    expect(parsePresenceData('not json', LIMITS)).toEqual({ ok: false, reason: 'Invalid channel_data: not JSON' });
    expect(parsePresenceData('', LIMITS)).toEqual({ ok: false, reason: 'Invalid channel_data: not JSON' });
    for (const data of ['null', '[]', '"10"', '10']) {
      expect(parsePresenceData(data, LIMITS)).toEqual({ ok: false, reason: 'Invalid channel_data: must be a JSON object' });
    }
  });

  it('works with DEFAULT_LIMITS (1 KB user_info, 128-char ids)', () => {
    expect(DEFAULT_LIMITS.maxPresenceUserInfoBytes).toBe(1024);
    expect(DEFAULT_LIMITS.maxPresenceUserIdLength).toBe(128);
    expect(parsePresenceData('{"user_id":10}', DEFAULT_LIMITS)).toMatchObject({ ok: true, member: { userId: '10' } });
  });
});

describe('parseUserData', () => {
  it('user_data of docs/reference/auth.md#worked-examples', () => {
    expect(parseUserData('{"id":"12345"}')).toEqual({
      ok: true,
      user: { id: '12345', userInfo: undefined, watchlist: [], watchlistTruncated: false },
    });
  });

  it('richer user_data of docs/reference/auth.md#worked-examples', () => {
    expect(parseUserData('{"id":"10","user_info":{"name":"Mr. Pusher"},"watchlist":["11","12"]}')).toEqual({
      ok: true,
      user: { id: '10', userInfo: { name: 'Mr. Pusher' }, watchlist: ['11', '12'], watchlistTruncated: false },
    });
  });

  it('id must be a string of 1 to 200 printable characters', () => {
    const long = JSON.stringify({ id: 'a'.repeat(201) });
    for (const data of ['{}', '{"id":""}', '{"id":12345}', '{"id":null}', '{"id":["1"]}', '{"user_id":"1"}', '{"id":"a\\nb"}', long]) {
      expect(parseUserData(data), data).toEqual({ ok: false, reason: 'Invalid user_data: id must be a string of 1 to 200 printable characters' });
    }
    expect(parseUserData(JSON.stringify({ id: 'a'.repeat(200) })).ok).toBe(true);
    expect(parseUserData('{"id":"auth0|5f7c"}').ok).toBe(true);
  });

  it('not JSON / not an object is rejected', () => {
    expect(parseUserData('nope')).toEqual({ ok: false, reason: 'Invalid user_data: not JSON' });
    for (const data of ['null', '[]', '"x"', '1']) {
      expect(parseUserData(data)).toEqual({ ok: false, reason: 'Invalid user_data: must be a JSON object' });
    }
  });

  it('watchlist of exactly 100 ids is kept whole, no flag', () => {
    const ids = Array.from({ length: 100 }, (_, i) => `u${i}`);
    const r = parseUserData(JSON.stringify({ id: '1', watchlist: ids }));
    expect(r.ok && r.user.watchlist).toEqual(ids);
    expect(r.ok && r.user.watchlistTruncated).toBe(false);
  });

  it('watchlist over 100 ids is truncated to the first 100, with the flag', () => {
    expect(MAX_WATCHLIST).toBe(100);
    const ids = Array.from({ length: 150 }, (_, i) => `u${i}`);
    const r = parseUserData(JSON.stringify({ id: '1', watchlist: ids }));
    expect(r.ok).toBe(true);
    expect(r.ok && r.user.watchlist).toEqual(ids.slice(0, 100));
    expect(r.ok && r.user.watchlistTruncated).toBe(true);
  });

  it('duplicate watchlist ids are merged; the flag is set only when ids were actually dropped', () => {
    // 101 entries, 100 distinct: nothing is dropped, so no 4302.
    const ids = [...Array.from({ length: 100 }, (_, i) => `u${i}`), 'u0'];
    const r = parseUserData(JSON.stringify({ id: '1', watchlist: ids }));
    expect(r.ok && r.user.watchlist).toEqual(ids.slice(0, 100));
    expect(r.ok && r.user.watchlistTruncated).toBe(false);

    const small = parseUserData('{"id":"1","watchlist":["a","b","a"]}');
    expect(small.ok && small.user.watchlist).toEqual(['a', 'b']);
  });

  it('numeric watchlist ids become strings; other values are dropped; non-array watchlist is ignored', () => {
    const r = parseUserData('{"id":"1","watchlist":[11,"12",null,{"x":1},true]}');
    expect(r.ok && r.user.watchlist).toEqual(['11', '12']);
    for (const wl of ['"11"', '{"a":"b"}', 'null', '5']) {
      const r2 = parseUserData(`{"id":"1","watchlist":${wl}}`);
      expect(r2.ok && r2.user.watchlist).toEqual([]);
      expect(r2.ok && r2.user.watchlistTruncated).toBe(false);
    }
  });
});
