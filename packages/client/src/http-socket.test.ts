import { describe, expect, it } from 'vitest';
import { createHttpTransport, MAX_STREAM_CHARS, type ReceiveMode } from './http-socket.js';
import { createFakeHttpStream } from '../test/fake-platform.js';
import type { Socket } from './transport.js';

/** A socket over the fake client, with everything its handlers heard. */
function open(mode: ReceiveMode = 'stream', url = 'http://push.test:3131/pusher/app/key?protocol=7&client=herald-js') {
  const fake = createFakeHttpStream(mode === 'stream');
  // Frames as their text; 'open' and 'error' for those callbacks.
  const heard: Array<string | { close: [number, string] }> = [];
  const transport = createHttpTransport(mode, fake.client);
  const socket: Socket = transport.connect(url, {
    onOpen: () => heard.push('open'),
    onMessage: (text) => heard.push(text),
    onClose: ({ code, reason }) => heard.push({ close: [code, reason] }),
    onError: () => heard.push('error'),
  });
  return { fake, heard, socket };
}

const frame = (event: string) => JSON.stringify({ event, data: {} });
const aLine = (...frames: string[]) => `a${JSON.stringify(frames)}\n`;

describe('HTTP transport socket', () => {
  it('opens a session under the URL, with the query on receive requests only; a new id per socket', () => {
    const { fake } = open();
    const [receive] = fake.exchanges;
    const other = open().fake.exchanges[0]!;
    expect(other.req.url.split('/').slice(-3, -1)).not.toEqual(receive!.req.url.split('/').slice(-3, -1));
    // {server}/{session}: a number below 1000, then 16 base-32 characters.
    expect(receive!.req.url).toMatch(/^http:\/\/push\.test:3131\/pusher\/app\/key\/\d{1,3}\/[0-9a-v]{16}\/xhr_streaming\?protocol=7&client=herald-js$/);
    expect(receive!.req).toMatchObject({ method: 'POST', body: '', headers: { 'Content-Type': 'text/plain;charset=UTF-8' } });
  });

  it('reads o, a, h and c lines, whole or split across chunks', () => {
    const { fake, heard } = open();
    const stream = fake.last('xhr_streaming');
    stream.answer('o\na["{\\"event\\":');
    expect(heard).toEqual(['open']);
    stream.more('\\"one\\"}"');
    stream.more(`,${JSON.stringify(frame('two'))}]\nh\n`);
    expect(heard).toEqual(['open', '{"event":"one"}', frame('two')]);
    stream.more('c[4200,"Gateway stopping"]\n');
    expect(heard.at(-1)).toEqual({ close: [4200, 'Gateway stopping'] });
    expect(stream.aborted).toBe(true);
  });

  it('sends frames in order, one xhr_send at a time, batching what queued meanwhile', () => {
    const { fake, socket } = open();
    expect(() => socket.send(frame('early'))).toThrow(/not open/);
    fake.last('xhr_streaming').answer('o\n');
    socket.send(frame('a'));
    socket.send(frame('b'));
    socket.send(frame('c'));
    const sends = () => fake.of('xhr_send');
    expect(sends()).toHaveLength(1);
    expect(sends()[0]!.req.url).toMatch(/\/\d+\/[0-9a-v]{16}\/xhr_send$/);
    expect(JSON.parse(sends()[0]!.req.body)).toEqual([frame('a')]);
    sends()[0]!.answer('', 204).end();
    expect(sends()).toHaveLength(2);
    expect(JSON.parse(sends()[1]!.req.body)).toEqual([frame('b'), frame('c')]);
  });

  it('closes (1006) when the server no longer has the session for an xhr_send', () => {
    const { fake, heard, socket } = open();
    const stream = fake.last('xhr_streaming').answer('o\n');
    socket.send(frame('a'));
    fake.last('xhr_send').answer('', 404).end();
    expect(heard.at(-1)).toEqual({ close: [1006, 'xhr_send answered HTTP 404'] });
    expect(stream.aborted).toBe(true);
  });

  it('reports a request without an answer as an error, then a 1006 close', () => {
    const { fake, heard } = open();
    fake.last('xhr_streaming').error();
    expect(heard).toEqual(['error', { close: [1006, 'HTTP receive request failed'] }]);
  });

  it('fails on an error status, on data that is not this protocol, and on a second o', () => {
    const a = open();
    a.fake.last('xhr_streaming').answer('{"error":"no"}', 404).end();
    expect(a.heard).toEqual([{ close: [1006, 'HTTP transport answered 404'] }]);

    const b = open();
    b.fake.last('xhr_streaming').answer('<html>\n');
    expect(b.heard).toEqual([{ close: [1006, 'Invalid HTTP transport data'] }]);

    const c = open();
    c.fake.last('xhr_streaming').answer('o\n').end();
    c.fake.last('xhr_streaming').answer('o\n');
    expect(c.heard).toEqual(['open', { close: [1006, 'Server lost session'] }]);
  });

  it('asks again when a stream ends, and gives up on an answer without a line (no hot loop)', () => {
    const { fake, heard } = open();
    fake
      .last('xhr_streaming')
      .answer(`o\n${aLine(frame('one'))}`)
      .end();
    expect(fake.of('xhr_streaming')).toHaveLength(2);
    fake.last('xhr_streaming').answer('').end();
    expect(fake.of('xhr_streaming')).toHaveLength(2);
    expect(heard).toEqual(['open', frame('one'), { close: [1006, 'Empty HTTP transport answer'] }]);
  });

  it('polls: each answer ends at its lines and the next request follows', () => {
    const { fake, heard, socket } = open('poll');
    fake
      .last('xhr')
      .answer(`o\n${aLine(frame('established'))}`)
      .end();
    expect(fake.of('xhr')).toHaveLength(2);
    fake.last('xhr').answer('h\n').end();
    fake
      .last('xhr')
      .answer(aLine(frame('x'), frame('y')))
      .end();
    expect(fake.of('xhr')).toHaveLength(4);
    expect(heard).toEqual(['open', frame('established'), frame('x'), frame('y')]);
    socket.close();
    expect(fake.last('xhr').aborted).toBe(true);
  });

  it(`replaces a stream past ${MAX_STREAM_CHARS / 1024} KB, keeping the order of lines across the two`, () => {
    const { fake, heard } = open();
    const first = fake.last('xhr_streaming').answer('o\n');
    const big = 'x'.repeat(MAX_STREAM_CHARS);
    first.more(aLine(big));
    expect(fake.of('xhr_streaming')).toHaveLength(2);
    const second = fake.last('xhr_streaming');
    // The new stream's lines arrive before the old one's last: they wait.
    second.answer(aLine(frame('after')));
    first.more(aLine(frame('before')));
    expect(heard).toEqual(['open', big, frame('before')]);
    first.end();
    expect(heard).toEqual(['open', big, frame('before'), frame('after')]);
    expect(first.aborted).toBe(false);
    second.more(aLine(frame('live')));
    expect(heard.at(-1)).toBe(frame('live'));
  });

  it('close() stops receiving without calling back, and still sends what was queued', () => {
    const { fake, heard, socket } = open();
    const stream = fake.last('xhr_streaming').answer('o\n');
    socket.send(frame('a'));
    socket.send(frame('leave'));
    const inFlight = fake.last('xhr_send');
    socket.close();
    expect(stream.aborted).toBe(true);
    expect(inFlight.aborted).toBe(false);
    expect(JSON.parse(fake.last('xhr_send').req.body)).toEqual([frame('leave')]);
    stream.more(aLine(frame('late')));
    inFlight.answer('', 404).end();
    expect(heard).toEqual(['open']);
  });
});
