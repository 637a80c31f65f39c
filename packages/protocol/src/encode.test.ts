import { describe, expect, it } from 'vitest';
import {
  PING_FRAME,
  PONG_FRAME,
  dataToString,
  encodeCacheMiss,
  encodeChannelEvent,
  encodeConnectionEstablished,
  encodeError,
  encodeMemberAdded,
  encodeMemberRemoved,
  encodePresenceSucceeded,
  encodeSigninSuccess,
  encodeSubscriptionCount,
  encodeSubscriptionFailure,
  encodeSubscriptionSucceeded,
  encodeWatchlistEvents,
} from './encode.js';
import { PusherError, PusherErrorCode, SubscriptionError, SubscriptionErrorType, appNotFound, invalidJson } from './errors.js';

const parse = (s: string) => JSON.parse(s) as { event: string; channel?: string; data?: unknown; user_id?: string };

describe('encodeConnectionEstablished', () => {
  it('data is a JSON string (docs/reference/protocol.md#connection-established)', () => {
    const frame = encodeConnectionEstablished('1234.1234', 120);
    expect(frame).toBe('{"event":"pusher:connection_established","data":"{\\"socket_id\\":\\"1234.1234\\",\\"activity_timeout\\":120}"}');
    const msg = parse(frame);
    expect(typeof msg.data).toBe('string');
    expect(JSON.parse(msg.data as string)).toEqual({ socket_id: '1234.1234', activity_timeout: 120 });
  });
});

describe('encodeError', () => {
  it('data is a plain object (docs/reference/protocol.md#frames)', () => {
    const frame = encodeError(appNotFound('abc'));
    const msg = parse(frame);
    expect(msg.event).toBe('pusher:error');
    expect(typeof msg.data).toBe('object');
    expect(msg.data).toEqual({ code: 4001, message: 'App key abc not in this cluster' });
  });

  it('code null is kept as null', () => {
    expect(encodeError(invalidJson())).toBe('{"event":"pusher:error","data":{"code":null,"message":"Received invalid JSON"}}');
  });

  it('has no channel field', () => {
    expect(parse(encodeError(new PusherError(PusherErrorCode.ClientEventRateLimited, 'x')))).not.toHaveProperty('channel');
  });
});

describe('ping/pong frames', () => {
  it('carry data "{}" as a string', () => {
    expect(PONG_FRAME).toBe('{"event":"pusher:pong","data":"{}"}');
    expect(PING_FRAME).toBe('{"event":"pusher:ping","data":"{}"}');
  });
});

describe('encodeChannelEvent', () => {
  it('matches docs/reference/protocol.md#channel-events', () => {
    expect(encodeChannelEvent('my-event', 'my-channel', '{"message":"hello world"}')).toBe(
      '{"event":"my-event","channel":"my-channel","data":"{\\"message\\":\\"hello world\\"}"}',
    );
    expect(encodeChannelEvent('client-typing', 'presence-foobar', '{"typing":true}', '10')).toBe(
      '{"event":"client-typing","channel":"presence-foobar","data":"{\\"typing\\":true}","user_id":"10"}',
    );
  });

  it('omits user_id unless given', () => {
    expect(parse(encodeChannelEvent('e', 'c', 'x'))).not.toHaveProperty('user_id');
  });

  it('data is delivered byte-for-byte (never re-encoded)', () => {
    const samples = [
      '{"message":"hello world"}',
      '{ "spaced" : 1 ,"order":"kept"}',
      'hello',
      '',
      '"already a JSON string"',
      '{"u":"\\u00e9\\u2028","slash":"\\/","lt":"\\u003c"}',
      'é ü 漢字 🎉 \u2028\u2029',
      'line1\nline2\ttab\\backslash"quote',
      '\ud83d', // lone surrogate
      'x'.repeat(10240),
    ];
    for (const data of samples) {
      const out = parse(encodeChannelEvent('my-event', 'my-channel', data));
      expect(out.data).toBe(data);
      expect(Buffer.from(out.data as string).equals(Buffer.from(data))).toBe(true);
    }
  });
});

describe('dataToString', () => {
  it('keeps strings, serialises everything else once', () => {
    expect(dataToString('{"a":1}')).toBe('{"a":1}');
    expect(dataToString('hello')).toBe('hello');
    expect(dataToString({ typing: true })).toBe('{"typing":true}');
    expect(dataToString([1, 'a'])).toBe('[1,"a"]');
    expect(dataToString(42)).toBe('42');
    expect(dataToString(false)).toBe('false');
    expect(dataToString(null)).toBe('null');
    expect(dataToString(undefined)).toBe('null');
  });

  it('a relayed client event carries string data', () => {
    const frame = parse(encodeChannelEvent('client-typing', 'private-chat', dataToString({ typing: true })));
    expect(frame.data).toBe('{"typing":true}');
  });
});

describe('subscription succeeded', () => {
  it('non-presence: data is the string "{}"', () => {
    expect(encodeSubscriptionSucceeded('my-channel')).toBe('{"event":"pusher_internal:subscription_succeeded","channel":"my-channel","data":"{}"}');
  });

  it('presence: docs/reference/protocol.md#presence-channels example exactly, null for a member without user_info', () => {
    const frame = encodePresenceSucceeded('presence-foobar', [
      { userId: '10', userInfo: { name: 'Mr. Pusher' } },
      { userId: '11', userInfo: undefined },
    ]);
    expect(frame).toBe(
      '{"event":"pusher_internal:subscription_succeeded","channel":"presence-foobar","data":"{\\"presence\\":{\\"ids\\":[\\"10\\",\\"11\\"],\\"hash\\":{\\"10\\":{\\"name\\":\\"Mr. Pusher\\"},\\"11\\":null},\\"count\\":2}}"}',
    );
    const data = JSON.parse(parse(frame).data as string) as { presence: { ids: string[]; hash: Record<string, unknown>; count: number } };
    expect(Object.prototype.hasOwnProperty.call(data.presence.hash, '11')).toBe(true);
    expect(data.presence.hash['11']).toBeNull();
  });

  it('presence: explicit null user_info stays null; falsy user_info values are kept', () => {
    const frame = encodePresenceSucceeded('presence-x', [
      { userId: 'a', userInfo: null },
      { userId: 'b', userInfo: 0 },
      { userId: 'c', userInfo: '' },
      { userId: 'd', userInfo: false },
    ]);
    const { presence } = JSON.parse(parse(frame).data as string) as { presence: { hash: Record<string, unknown>; count: number } };
    expect(presence.hash).toEqual({ a: null, b: 0, c: '', d: false });
    expect(presence.count).toBe(4);
  });

  it('presence: members are deduplicated by user id, first one wins; count = distinct users', () => {
    const frame = encodePresenceSucceeded('presence-x', [
      { userId: '1', userInfo: { n: 'first' } },
      { userId: '2', userInfo: undefined },
      { userId: '1', userInfo: { n: 'second' } },
    ]);
    const { presence } = JSON.parse(parse(frame).data as string) as { presence: { ids: string[]; hash: Record<string, unknown>; count: number } };
    expect(presence).toEqual({ ids: ['1', '2'], hash: { '1': { n: 'first' }, '2': null }, count: 2 });
  });

  it('presence: every id is a key of hash, even ids that collide with Object.prototype names', () => {
    const ids = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '10'];
    const frame = encodePresenceSucceeded(
      'presence-x',
      ids.map((userId) => ({ userId, userInfo: { id: userId } })),
    );
    const { presence } = JSON.parse(parse(frame).data as string) as { presence: { ids: string[]; hash: Record<string, unknown>; count: number } };
    expect(presence.ids).toEqual(ids);
    expect(presence.count).toBe(ids.length);
    expect(Object.keys(presence.hash).sort()).toEqual([...ids].sort());
    for (const id of ids) expect(Object.getOwnPropertyDescriptor(presence.hash, id)?.value).toEqual({ id });
  });

  it('presence: empty member list', () => {
    const frame = encodePresenceSucceeded('presence-x', []);
    expect(JSON.parse(parse(frame).data as string)).toEqual({ presence: { ids: [], hash: {}, count: 0 } });
  });
});

describe('member events', () => {
  it('member_added / member_removed match docs/reference/protocol.md#presence-channels', () => {
    expect(encodeMemberAdded('presence-foobar', '11', { name: 'Ms. Pusher' })).toBe(
      '{"event":"pusher_internal:member_added","channel":"presence-foobar","data":"{\\"user_id\\":\\"11\\",\\"user_info\\":{\\"name\\":\\"Ms. Pusher\\"}}"}',
    );
    expect(encodeMemberRemoved('presence-foobar', '11')).toBe(
      '{"event":"pusher_internal:member_removed","channel":"presence-foobar","data":"{\\"user_id\\":\\"11\\"}"}',
    );
  });

  it('member_added without user_info omits the field', () => {
    expect(JSON.parse(parse(encodeMemberAdded('presence-x', '7', undefined)).data as string)).toEqual({ user_id: '7' });
  });
});

describe('other server frames', () => {
  it('subscription_count (docs/reference/protocol.md#subscription-counts)', () => {
    expect(encodeSubscriptionCount('my-channel', 3)).toBe(
      '{"event":"pusher_internal:subscription_count","channel":"my-channel","data":"{\\"subscription_count\\":3}"}',
    );
  });

  it('cache_miss (docs/reference/protocol.md#cache-channels)', () => {
    expect(encodeCacheMiss('cache-prices')).toBe('{"event":"pusher:cache_miss","channel":"cache-prices","data":"{}"}');
  });

  it('signin_success (docs/reference/protocol.md#sign-in-and-user-events): object data echoing the exact user_data string', () => {
    expect(encodeSigninSuccess('{"id":"12345"}')).toBe('{"event":"pusher:signin_success","data":{"user_data":"{\\"id\\":\\"12345\\"}"}}');
  });

  it('watchlist_events (docs/reference/protocol.md#sign-in-and-user-events): string data', () => {
    expect(
      encodeWatchlistEvents([
        { name: 'online', user_ids: ['11', '12'] },
        { name: 'offline', user_ids: ['13'] },
      ]),
    ).toBe(
      '{"event":"pusher_internal:watchlist_events","data":"{\\"events\\":[{\\"name\\":\\"online\\",\\"user_ids\\":[\\"11\\",\\"12\\"]},{\\"name\\":\\"offline\\",\\"user_ids\\":[\\"13\\"]}]}"}',
    );
  });

  it('subscription failure: soketi-style channel-scoped frame plus Pusher-style pusher:error code null', () => {
    const frames = encodeSubscriptionFailure(
      new SubscriptionError('private-foobar', SubscriptionErrorType.AuthError, 'Auth info required to subscribe to private-foobar', 401),
    );
    expect(frames).toEqual([
      '{"event":"pusher:subscription_error","channel":"private-foobar","data":{"type":"AuthError","error":"Auth info required to subscribe to private-foobar","status":401}}',
      '{"event":"pusher:error","data":{"code":null,"message":"Auth info required to subscribe to private-foobar"}}',
    ]);
  });
});
