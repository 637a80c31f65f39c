import { describe, expect, it } from 'vitest';
import { parseClientFrame } from './decode.js';
import { PusherError } from './errors.js';

/** Runs `fn`, expecting a PusherError; returns it. */
function pusherErrorOf(fn: () => unknown): PusherError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PusherError);
    return err as PusherError;
  }
  throw new Error('expected a PusherError, nothing was thrown');
}

describe('parseClientFrame: liveness', () => {
  it('pusher:ping from pusher-js (data {})', () => {
    expect(parseClientFrame('{"event":"pusher:ping","data":{}}')).toEqual({ kind: 'ping' });
  });

  it('pusher:ping without data (Java client)', () => {
    expect(parseClientFrame('{"event": "pusher:ping"}')).toEqual({ kind: 'ping' });
  });

  it('pusher:ping with string or odd data', () => {
    expect(parseClientFrame('{"event":"pusher:ping","data":"{}"}')).toEqual({ kind: 'ping' });
    expect(parseClientFrame('{"event":"pusher:ping","data":null}')).toEqual({ kind: 'ping' });
  });

  it('pusher:pong', () => {
    expect(parseClientFrame('{"event":"pusher:pong","data":{}}')).toEqual({ kind: 'pong' });
    expect(parseClientFrame('{"event":"pusher:pong"}')).toEqual({ kind: 'pong' });
  });
});

describe('parseClientFrame: subscribe', () => {
  it('public channel with empty auth (pusher-js)', () => {
    expect(parseClientFrame('{"event":"pusher:subscribe","data":{"auth":"","channel":"my-channel"}}')).toEqual({
      kind: 'subscribe',
      channel: 'my-channel',
      auth: '',
      channelData: undefined,
    });
  });

  it('presence frame from docs/reference/auth.md#worked-examples, channel_data kept as the exact string', () => {
    const frame =
      '{"event":"pusher:subscribe","data":{"auth":"278d425bdf160c739803:48dac51d2d7569e1e9c0f48c227d4b26f238fa68e5c0bb04222c966909c4f7c4","channel_data":"{\\"user_id\\":\\"10\\",\\"user_info\\":{\\"name\\":\\"Mr. Pusher\\"}}","channel":"presence-foobar"}}';
    expect(parseClientFrame(frame)).toEqual({
      kind: 'subscribe',
      channel: 'presence-foobar',
      auth: '278d425bdf160c739803:48dac51d2d7569e1e9c0f48c227d4b26f238fa68e5c0bb04222c966909c4f7c4',
      channelData: '{"user_id":"10","user_info":{"name":"Mr. Pusher"}}',
    });
  });

  it('double-encoded data string is accepted', () => {
    const inner = JSON.stringify({ auth: 'k:s', channel: 'private-foobar', channel_data: '{"user_id":"1"}' });
    expect(parseClientFrame(JSON.stringify({ event: 'pusher:subscribe', data: inner }))).toEqual({
      kind: 'subscribe',
      channel: 'private-foobar',
      auth: 'k:s',
      channelData: '{"user_id":"1"}',
    });
  });

  it('falls back to a top-level channel', () => {
    expect(parseClientFrame('{"event":"pusher:subscribe","channel":"my-channel"}')).toMatchObject({ kind: 'subscribe', channel: 'my-channel' });
    expect(parseClientFrame('{"event":"pusher:subscribe","channel":"outer","data":{"channel":"inner"}}')).toMatchObject({ channel: 'inner' });
  });

  it('non-object data (non-JSON string, array, number) yields empty fields, not an exception', () => {
    for (const data of ['"not json"', '[1,2]', '42', '"[\\"a\\"]"', 'null']) {
      expect(parseClientFrame(`{"event":"pusher:subscribe","data":${data}}`)).toEqual({
        kind: 'subscribe',
        channel: undefined,
        auth: undefined,
        channelData: undefined,
      });
    }
  });

  it('passes non-string field values through for the caller to validate', () => {
    expect(parseClientFrame('{"event":"pusher:subscribe","data":{"channel":42,"auth":{"x":1},"channel_data":{"user_id":1}}}')).toEqual({
      kind: 'subscribe',
      channel: 42,
      auth: { x: 1 },
      channelData: { user_id: 1 },
    });
  });
});

describe('parseClientFrame: unsubscribe and signin', () => {
  it('pusher:unsubscribe', () => {
    expect(parseClientFrame('{"event":"pusher:unsubscribe","data":{"channel":"my-channel"}}')).toEqual({ kind: 'unsubscribe', channel: 'my-channel' });
    expect(parseClientFrame('{"event":"pusher:unsubscribe","data":"{\\"channel\\":\\"x\\"}"}')).toEqual({ kind: 'unsubscribe', channel: 'x' });
    expect(parseClientFrame('{"event":"pusher:unsubscribe"}')).toEqual({ kind: 'unsubscribe', channel: undefined });
  });

  it('pusher:signin (docs/reference/protocol.md#sign-in-and-user-events), user_data kept as the exact string', () => {
    const frame =
      '{"event":"pusher:signin","data":{"auth":"278d425bdf160c739803:4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba","user_data":"{\\"id\\":\\"12345\\"}"}}';
    expect(parseClientFrame(frame)).toEqual({
      kind: 'signin',
      auth: '278d425bdf160c739803:4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba',
      userData: '{"id":"12345"}',
    });
  });

  it('pusher:signin double-encoded', () => {
    const inner = JSON.stringify({ auth: 'k:s', user_data: '{"id":"1"}' });
    expect(parseClientFrame(JSON.stringify({ event: 'pusher:signin', data: inner }))).toEqual({ kind: 'signin', auth: 'k:s', userData: '{"id":"1"}' });
  });
});

describe('parseClientFrame: client events', () => {
  it('object data is kept as given (serialised later by the relay)', () => {
    expect(parseClientFrame('{"event":"client-typing","data":{"typing":true},"channel":"private-chat"}')).toEqual({
      kind: 'client-event',
      event: 'client-typing',
      channel: 'private-chat',
      data: { typing: true },
    });
  });

  it('string data is not decoded', () => {
    expect(parseClientFrame('{"event":"client-x","data":"{\\"a\\":1}","channel":"private-chat"}')).toEqual({
      kind: 'client-event',
      event: 'client-x',
      channel: 'private-chat',
      data: '{"a":1}',
    });
  });

  it('missing channel/data are reported as undefined', () => {
    expect(parseClientFrame('{"event":"client-x"}')).toEqual({ kind: 'client-event', event: 'client-x', channel: undefined, data: undefined });
  });
});

describe('parseClientFrame: rejections', () => {
  it.each([
    ['not JSON', 'hello'],
    ['truncated JSON', '{"event":"pusher:ping"'],
    ['empty', ''],
    ['JSON null', 'null'],
    ['JSON array', '[{"event":"pusher:ping"}]'],
    ['JSON string', '"pusher:ping"'],
    ['JSON number', '42'],
    ['missing event', '{"data":{}}'],
    ['numeric event', '{"event":42}'],
    ['null event', '{"event":null}'],
  ])('%s → PusherError code null "Received invalid JSON"', (_, text) => {
    const err = pusherErrorOf(() => parseClientFrame(text));
    expect(err.code).toBeNull();
    expect(err.message).toBe('Received invalid JSON');
    expect(err.closeConnection).toBe(false);
  });

  it('pusher_internal: events from clients are rejected', () => {
    for (const event of ['pusher_internal:subscription_succeeded', 'pusher_internal:member_added', 'pusher_internal:anything']) {
      const err = pusherErrorOf(() => parseClientFrame(JSON.stringify({ event, channel: 'presence-x', data: '{}' })));
      expect(err.code).toBeNull();
      expect(err.closeConnection).toBe(false);
      expect(err.message).toContain('pusher_internal:');
    }
  });

  it('events that are neither client- nor pusher: are rejected', () => {
    for (const event of ['my-event', 'Client-x', 'xclient-x', 'clientx', 'pusher-x', '', 'CLIENT-x']) {
      const err = pusherErrorOf(() => parseClientFrame(JSON.stringify({ event, channel: 'private-x', data: '{}' })));
      expect(err.code, event).toBeNull();
      expect(err.closeConnection).toBe(false);
      expect(err.message).toMatch(/client events must start with client-/);
    }
  });

  it('the rejected event name is quoted and capped in the message', () => {
    const err = pusherErrorOf(() => parseClientFrame(JSON.stringify({ event: `x${'y'.repeat(500)}` })));
    expect(err.message.length).toBeLessThan(150);
  });
});

describe('parseClientFrame: unknown pusher: events', () => {
  it('are ignored, not rejected', () => {
    for (const event of ['pusher:foo', 'pusher:subscription_error', 'pusher:connection_established', 'pusher:']) {
      expect(parseClientFrame(JSON.stringify({ event, data: {} }))).toEqual({ kind: 'ignored', event });
    }
  });

  it('event names are matched exactly (case-sensitive)', () => {
    expect(parseClientFrame('{"event":"pusher:PING"}')).toEqual({ kind: 'ignored', event: 'pusher:PING' });
    expect(parseClientFrame('{"event":"pusher:subscribe2","data":{"channel":"x"}}')).toEqual({ kind: 'ignored', event: 'pusher:subscribe2' });
  });
});
