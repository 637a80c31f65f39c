import { describe, expect, it } from 'vitest';
import type { Publication } from '../broker.js';
import { PublishUnavailableError } from '../errors/publish-unavailable.js';
import { encodeEnvelope, encodeEnvelopeBytes } from './envelope.js';
import { RedisKeys } from './keys.js';
import type { PubSubTransport } from './pubsub-transport.js';
import { RedisBroker } from './redis-broker.js';

/** A transport that records what is published and answers each publish as `answer` says. */
function fakeTransport(answer: () => Promise<unknown>) {
  const sent: { topic: string; payload: string | Buffer }[] = [];
  let onMessage: (topic: string, payload: Buffer) => void = () => undefined;
  const ps: PubSubTransport = {
    ready: () => true,
    publish: (topic, payload) => {
      sent.push({ topic, payload });
      return answer();
    },
    publishCommand: 'PUBLISH',
    subscribe: async () => undefined,
    unsubscribe: async () => undefined,
    onMessage: (cb) => (onMessage = cb),
    onReady: () => undefined,
    disconnect: () => undefined,
  };
  return { ps, sent, deliver: (topic: string, payload: Buffer) => onMessage(topic, payload) };
}

async function startedBroker(t: ReturnType<typeof fakeTransport>) {
  const log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
  const broker = new RedisBroker(t.ps, new RedisKeys('t'), log);
  const received: Publication[] = [];
  await broker.start({ onPublication: (p) => received.push(p), onControl: () => undefined });
  return { broker, received };
}

const frame = JSON.stringify({ event: 'e', channel: 'c', data: 'é ✓ x' });

describe('RedisBroker publications', () => {
  it('sends the envelope as one Buffer holding the same bytes as the string envelope', async () => {
    const t = fakeTransport(async () => 1);
    const { broker } = await startedBroker(t);
    await broker.publish({ appId: 'a', channel: 'c', frame, exceptSocketId: '123.456' });
    await broker.publish({ appId: 'a', channel: 'c', frame: Buffer.from(frame) });
    const sent = t.sent.filter((s) => s.topic === new RedisKeys('t').topic('a', 'c'));
    expect(sent.map((s) => Buffer.isBuffer(s.payload))).toEqual([true, true]);
    expect((sent[0]!.payload as Buffer).toString()).toBe(encodeEnvelope({ frame, exceptSocketId: '123.456' }));
    expect((sent[1]!.payload as Buffer).toString()).toBe(encodeEnvelope({ frame }));
    expect(encodeEnvelopeBytes({ frame: '' }).toString()).toBe('\n');
  });

  it('delivers a publication locally, bytes and exclusion unchanged, when Redis refuses it', async () => {
    const t = fakeTransport(async () => {
      throw new Error('connection lost');
    });
    const { broker, received } = await startedBroker(t);
    await broker.publish({ appId: 'a', channel: 'c', frame, exceptSocketId: '123.456' });
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ appId: 'a', channel: 'c', exceptSocketId: '123.456' });
    expect(Buffer.from(received[0]!.frame).toString()).toBe(frame);
  });

  it('hands a received envelope on as its frame bytes and exclusion', async () => {
    const t = fakeTransport(async () => 1);
    const { broker, received } = await startedBroker(t);
    await broker.subscribe('a', 'c');
    t.deliver(new RedisKeys('t').topic('a', 'c'), encodeEnvelopeBytes({ frame, exceptSocketId: '1.2' }));
    t.deliver(new RedisKeys('t').topic('a', 'c'), Buffer.from('no envelope'));
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ appId: 'a', channel: 'c', exceptSocketId: '1.2' });
    expect(Buffer.from(received[0]!.frame).toString()).toBe(frame);
  });
});

describe('RedisBroker publications that wait for Redis (triggers)', () => {
  const topic = new RedisKeys('t').topic('a', 'c');

  it('publishes once Redis answers again within the wait, and delivers nothing locally', async () => {
    let failures = 3;
    const t = fakeTransport(async () => {
      if (failures-- > 0) throw new Error('CLUSTERDOWN The cluster is down');
      return 1;
    });
    const { broker, received } = await startedBroker(t);
    await expect(broker.publish({ appId: 'a', channel: 'c', frame }, { waitMs: 10_000 })).resolves.toBeUndefined();
    expect(t.sent.filter((s) => s.topic === topic)).toHaveLength(4);
    expect(received).toEqual([]);
  });

  it('not published within the wait: delivered locally, then PublishUnavailableError', async () => {
    const t = fakeTransport(async () => {
      throw new Error('connection lost');
    });
    const { broker, received } = await startedBroker(t);
    const err = await broker.publish({ appId: 'a', channel: 'c', frame, exceptSocketId: '1.2' }, { waitMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublishUnavailableError);
    expect((err as PublishUnavailableError).code).toBe('PUSH_ERR_PUBLISH_UNAVAILABLE');
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ appId: 'a', channel: 'c', exceptSocketId: '1.2' });
    // It kept trying meanwhile, one attempt at a time.
    expect(t.sent.filter((s) => s.topic === topic).length).toBeGreaterThan(1);
  });

  it('without a wait (client events): one attempt, local delivery on failure, no error', async () => {
    const t = fakeTransport(async () => {
      throw new Error('connection lost');
    });
    const { broker, received } = await startedBroker(t);
    await expect(broker.publish({ appId: 'a', channel: 'c', frame })).resolves.toBeUndefined();
    expect(t.sent.filter((s) => s.topic === topic)).toHaveLength(1);
    expect(received).toHaveLength(1);
  });
});

describe('RedisBroker channel sync', () => {
  const topic = new RedisKeys('t').topic('a', 'presence-c');

  it('resolves once its marker comes back on the topic; markers never reach the handler', async () => {
    const t = fakeTransport(async () => 1);
    const { broker, received } = await startedBroker(t);
    await broker.subscribe('a', 'presence-c');
    let done = false;
    const sync = broker.sync('a', 'presence-c').then(() => (done = true));
    await expect.poll(() => t.sent.filter((s) => s.topic === topic).length).toBe(1);
    // Another node's marker, then a publication, then ours: only ours ends the wait.
    t.deliver(topic, Buffer.from('\u0000someone-else:1', 'latin1'));
    t.deliver(topic, encodeEnvelopeBytes({ frame }));
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    t.deliver(topic, Buffer.from(t.sent.find((s) => s.topic === topic)!.payload as Buffer));
    await sync;
    expect(done).toBe(true);
    expect(received).toHaveLength(1);
    expect(Buffer.from(received[0]!.frame).toString()).toBe(frame);
  });
});
