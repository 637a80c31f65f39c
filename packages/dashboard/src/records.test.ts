import { describe, expect, it } from 'vitest';
import { DEBUG_DATA_MAX as BROKER_DATA_MAX, type DebugRecord } from '@herald/broker';
import { ConsoleBuffer } from './console-buffer.js';
import {
  DEBUG_DATA_MAX,
  DEBUG_KINDS,
  isFailure,
  matchesFilter,
  parseStreamMessage,
  recordChannels,
  recordData,
  recordEvent,
  summarize,
  type RecordFilter,
} from './records.js';

const base = { at: 1_765_000_000_000, node: 'gw-1' };
const opened: DebugRecord = { ...base, kind: 'connection_opened', socketId: '1.2', origin: 'https://a.example', transport: 'ws' };
const api: DebugRecord = { ...base, kind: 'api_event', channels: ['orders', 'presence-room'], event: 'order-created', size: 11, data: '{"id":1234}' };
const client: DebugRecord = {
  ...base,
  kind: 'client_event',
  socketId: '1.2',
  channel: 'private-chat',
  event: 'client-typing',
  size: 2,
  data: '{}',
  userId: 'u1',
};
const failed: DebugRecord = { ...base, kind: 'subscription_failed', socketId: '1.2', channel: 'private-x', code: 4009, reason: 'invalid signature' };
const all: RecordFilter = { kinds: new Set(DEBUG_KINDS), channel: '', event: '' };

describe('debug records', () => {
  it('keeps the broker data limit', () => {
    expect(DEBUG_DATA_MAX).toBe(BROKER_DATA_MAX);
  });

  it('parses the stream messages and ignores anything else', () => {
    expect(parseStreamMessage('{"type":"hello","node":"gw-1"}')).toEqual({ type: 'hello', node: 'gw-1' });
    expect(parseStreamMessage('{"type":"skipped","count":12}')).toEqual({ type: 'skipped', count: 12 });
    expect(parseStreamMessage(JSON.stringify({ type: 'record', record: api }))).toEqual({ type: 'record', record: api });
    expect(parseStreamMessage('{"type":"record","record":{"kind":"other","at":1}}')).toBeNull();
    expect(parseStreamMessage('{"type":"skipped","count":"x"}')).toBeNull();
    expect(parseStreamMessage('<html>')).toBeNull();
    expect(parseStreamMessage('[1]')).toBeNull();
  });

  it('names the channels and event of a record', () => {
    expect(recordChannels(api)).toEqual(['orders', 'presence-room']);
    expect(recordChannels(client)).toEqual(['private-chat']);
    expect(recordChannels(opened)).toEqual([]);
    expect(recordEvent(api)).toBe('order-created');
    expect(recordEvent(failed)).toBeUndefined();
  });

  it('filters by kind, channel substring and event substring, case-insensitively', () => {
    expect(matchesFilter(api, all)).toBe(true);
    expect(matchesFilter(api, { ...all, kinds: new Set(['client_event']) })).toBe(false);
    expect(matchesFilter(api, { ...all, channel: 'ROOM' })).toBe(true);
    expect(matchesFilter(api, { ...all, channel: 'chat' })).toBe(false);
    // A channel filter hides the records without a channel.
    expect(matchesFilter(opened, { ...all, channel: 'room' })).toBe(false);
    expect(matchesFilter(client, { ...all, event: 'typing' })).toBe(true);
    expect(matchesFilter(failed, { ...all, event: 'typing' })).toBe(false);
    expect(matchesFilter(failed, { ...all, channel: '  ', event: ' ' })).toBe(true);
  });

  it('sums a record up in one line', () => {
    expect(summarize(opened)).toBe('1.2 opened over ws from https://a.example');
    expect(summarize(failed)).toBe('1.2 → private-x refused (4009): invalid signature');
    expect(summarize(api)).toBe('order-created → orders, presence-room · 11 B');
    expect(
      summarize({
        ...base,
        kind: 'webhook',
        url: 'https://h.example/',
        events: ['channel_occupied'],
        error: 'timeout',
        latencyMs: 5000.4,
        attempt: 2,
        outcome: 'retrying',
      }),
    ).toBe('channel_occupied → https://h.example/: timeout in 5000 ms, attempt 2, retrying');
    expect(summarize({ ...base, kind: 'error_sent', socketId: '1.2', code: null, message: 'bad' })).toBe('1.2: bad');
  });

  it('shows event data indented when JSON, and says when it was cut', () => {
    expect(recordData(api)).toBe('{\n  "id": 1234\n}');
    expect(recordData({ ...client, data: 'plain', size: 5 })).toBe('plain');
    const long = 'x'.repeat(DEBUG_DATA_MAX);
    expect(recordData({ ...client, data: long, size: 5000 })).toBe(`${long}… (first ${DEBUG_DATA_MAX} characters)`);
    expect(recordData(opened)).toBeUndefined();
  });

  it('marks failures', () => {
    expect(isFailure(failed)).toBe(true);
    expect(isFailure(api)).toBe(false);
    expect(isFailure({ ...base, kind: 'connection_closed', socketId: '1', code: 4001, reason: 'unknown app' })).toBe(true);
    expect(isFailure({ ...base, kind: 'connection_closed', socketId: '1', code: 1000, reason: '' })).toBe(false);
  });
});

describe('ConsoleBuffer', () => {
  it('keeps the newest records, newest first in view', () => {
    const b = new ConsoleBuffer(3);
    for (let i = 0; i < 5; i++) b.add({ ...opened, socketId: `s${i}` });
    expect(b.view(all).map((e) => (e.record as { socketId: string }).socketId)).toEqual(['s4', 's3', 's2']);
    expect(b.dropped).toBe(2);
    expect(b.size).toBe(3);
  });

  it('holds records while paused and shows them on resume', () => {
    const b = new ConsoleBuffer(10);
    b.add(api);
    b.pause();
    b.add(client);
    b.add(failed);
    expect(b.view(all)).toHaveLength(1);
    expect(b.arrivedWhilePaused).toBe(2);
    b.resume();
    expect(b.view(all).map((e) => e.record.kind)).toEqual(['subscription_failed', 'client_event', 'api_event']);
    expect(b.arrivedWhilePaused).toBe(0);
  });

  it('counts skipped records, and clear forgets everything but the pause', () => {
    const b = new ConsoleBuffer(10);
    b.addSkipped(3);
    b.addSkipped(4);
    expect(b.skipped).toBe(7);
    b.add(api);
    b.pause();
    b.add(client);
    b.clear();
    expect(b.skipped).toBe(0);
    expect(b.view(all)).toEqual([]);
    expect(b.paused).toBe(true);
    b.resume();
    expect(b.view(all)).toEqual([]);
  });

  it('filters the view', () => {
    const b = new ConsoleBuffer(10);
    b.add(api);
    b.add(client);
    b.add(opened);
    expect(b.view({ ...all, channel: 'chat' }).map((e) => e.record.kind)).toEqual(['client_event']);
  });
});
