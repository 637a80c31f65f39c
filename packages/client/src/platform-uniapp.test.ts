import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { UniApi, UniSocketTask } from './platform-uniapp.js';
import UniPush from './uniapp.js';

/** A fake `SocketTask`: records what the client sends, and lets the test play the server. */
class FakeTask implements UniSocketTask {
  readonly sent: Array<{ event: string; channel?: string; data?: unknown }> = [];
  closedWith: { code?: number; reason?: string } | undefined;
  private cbs: {
    open?: () => void;
    message?: (res: { data: unknown }) => void;
    close?: (res: { code?: number; reason?: string }) => void;
    error?: (err: unknown) => void;
  } = {};

  constructor(readonly url: string) {}

  onOpen(cb: () => void) {
    this.cbs.open = cb;
  }
  onMessage(cb: (res: { data: unknown }) => void) {
    this.cbs.message = cb;
  }
  onClose(cb: (res: { code?: number; reason?: string }) => void) {
    this.cbs.close = cb;
  }
  onError(cb: (err: unknown) => void) {
    this.cbs.error = cb;
  }
  send({ data }: { data: string }) {
    this.sent.push(JSON.parse(data) as { event: string });
  }
  close(o: { code?: number; reason?: string }) {
    this.closedWith = o;
  }

  // The server's side.
  open() {
    this.cbs.open?.();
  }
  push(frame: object) {
    this.cbs.message?.({ data: JSON.stringify(frame) });
  }
  binary() {
    this.cbs.message?.({ data: new ArrayBuffer(4) });
  }
  serverClose(code: number, reason = '') {
    this.cbs.close?.({ code, reason });
  }
}

function createFakeUni() {
  const tasks: FakeTask[] = [];
  const requests: Array<{ url: string; header: Record<string, string>; data: string }> = [];
  const networkListeners: Array<(res: { isConnected: boolean }) => void> = [];
  const uni: UniApi = {
    connectSocket(o) {
      // uni-app returns a SocketTask only when a callback is given.
      expect(o.complete ?? o.fail).toBeTypeOf('function');
      const t = new FakeTask(o.url);
      tasks.push(t);
      return t;
    },
    request(o) {
      requests.push({ url: o.url, header: o.header, data: o.data });
      // Some platforms parse JSON whatever dataType says: the adapter must cope with an object.
      setTimeout(() => o.success({ statusCode: 200, data: { auth: 'key:sig' } }), 0);
      return {};
    },
    onNetworkStatusChange(cb) {
      networkListeners.push(cb);
    },
    getNetworkType(o) {
      o.success({ networkType: 'wifi' });
    },
  };
  return {
    uni,
    tasks,
    requests,
    get task(): FakeTask {
      return tasks[tasks.length - 1]!;
    },
    network(isConnected: boolean) {
      for (const l of networkListeners) l({ isConnected });
    },
  };
}

const established = (socketId: string) => ({
  event: 'pusher:connection_established',
  data: JSON.stringify({ socket_id: socketId, activity_timeout: 120 }),
});

describe('uni-app transport adapter', () => {
  let fake: ReturnType<typeof createFakeUni>;
  let push: UniPush | undefined;

  beforeEach(() => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    fake = createFakeUni();
    (globalThis as { uni?: UniApi }).uni = fake.uni;
  });
  afterEach(() => {
    push?.disconnect();
    delete (globalThis as { uni?: UniApi }).uni;
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('connect → connection_established → subscribe → event → close → reconnect → resubscribe', async () => {
    push = new UniPush({ url: 'wss://push.example.com', app_key: 'k1', auth: 'https://app.example.com/auth' });
    const states: string[] = [];
    push.connection.on('state_change', ({ current }: { current: string }) => states.push(current));
    expect(fake.tasks).toHaveLength(1);
    expect(fake.task.url).toMatch(/^wss:\/\/push\.example\.com\/app\/k1\?protocol=7&/);

    const pub = push.subscribe('news');
    const priv = push.subscribe('private-orders');
    const got: unknown[] = [];
    pub.on('message', (d: unknown) => got.push(d));
    fake.task.open();
    fake.task.push(established('1.1'));
    expect(push.connection.state).toBe('connected');
    expect(push.connection.socket_id).toBe('1.1');
    await vi.advanceTimersByTimeAsync(0);

    // The private channel was authorized through uni.request, form-urlencoded.
    expect(fake.requests).toEqual([
      {
        url: 'https://app.example.com/auth',
        header: { 'Content-Type': 'application/x-www-form-urlencoded' },
        data: 'socket_id=1.1&channel_name=private-orders',
      },
    ]);
    expect(fake.task.sent).toEqual([
      { event: 'pusher:subscribe', data: { auth: '', channel: 'news' } },
      { event: 'pusher:subscribe', data: { auth: 'key:sig', channel: 'private-orders' } },
    ]);
    fake.task.push({ event: 'pusher_internal:subscription_succeeded', channel: 'news', data: '{}' });
    fake.task.push({ event: 'pusher_internal:subscription_succeeded', channel: 'private-orders', data: '{}' });
    expect(pub.subscribed && priv.subscribed).toBe(true);

    fake.task.push({ event: 'message', channel: 'news', data: '{"text":"hello"}' });
    fake.task.binary(); // ignored
    fake.task.push({ event: 'message', channel: 'news', data: 'raw text' });
    expect(got).toEqual([{ text: 'hello' }, 'raw text']);

    // The server goes away: back-off (0.5 × 1000 ms), then a new SocketTask.
    const first = fake.task;
    first.serverClose(1006);
    expect(push.connection.state).toBe('disconnected');
    expect(pub.subscribed).toBe(false);
    await vi.advanceTimersByTimeAsync(499);
    expect(fake.tasks).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fake.tasks).toHaveLength(2);
    expect(fake.task).not.toBe(first);

    fake.task.open();
    fake.task.push(established('1.2'));
    await vi.advanceTimersByTimeAsync(0);
    expect(fake.requests.map((r) => r.data)).toEqual(['socket_id=1.1&channel_name=private-orders', 'socket_id=1.2&channel_name=private-orders']);
    expect(fake.task.sent).toEqual([
      { event: 'pusher:subscribe', data: { auth: '', channel: 'news' } },
      { event: 'pusher:subscribe', data: { auth: 'key:sig', channel: 'private-orders' } },
    ]);
    fake.task.push({ event: 'pusher_internal:subscription_succeeded', channel: 'news', data: '{}' });
    fake.task.push({ event: 'message', channel: 'news', data: '{"text":"again"}' });
    expect(got).toEqual([{ text: 'hello' }, 'raw text', { text: 'again' }]);
    expect(states).toEqual(['connected', 'disconnected', 'connecting', 'connected']);

    // A late close of the old task changes nothing.
    first.serverClose(1000);
    expect(push.connection.state).toBe('connected');

    push.disconnect();
    expect(fake.task.closedWith).toEqual({ code: 1000, reason: 'Client disconnect' });
  });

  it('waits for uni.onNetworkStatusChange instead of retrying while offline', async () => {
    push = new UniPush({ url: 'ws://127.0.0.1:3131', app_key: 'k1' });
    fake.task.open();
    fake.task.push(established('1.1'));
    fake.network(false);
    fake.task.serverClose(1006);
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    expect(fake.tasks).toHaveLength(1);
    fake.network(true);
    expect(fake.tasks).toHaveLength(2);
  });

  it('falls back to long polling through uni.request when the socket cannot open (no streaming)', async () => {
    const polls: Array<{ url: string; header: Record<string, string>; data: string; timeout?: number; aborted: boolean; answer(data: string): void }> = [];
    fake.uni.request = (o) => {
      const call = {
        url: o.url,
        header: o.header,
        data: o.data,
        timeout: o.timeout,
        aborted: false,
        answer: (data: string) => o.success({ statusCode: 200, data }),
      };
      polls.push(call);
      return {
        abort: () => {
          call.aborted = true;
          o.fail({ errMsg: 'request:fail abort' });
        },
      };
    };
    push = new UniPush({ url: 'wss://push.example.com', app_key: 'k1' });
    fake.task.serverClose(1006); // never opened
    await vi.advanceTimersByTimeAsync(500);
    fake.task.serverClose(1006);
    await vi.advanceTimersByTimeAsync(125);
    expect(fake.tasks).toHaveLength(2);
    expect(push.connection.transport).toBe('xhr_polling');
    expect(polls).toHaveLength(1);
    expect(polls[0]).toMatchObject({ header: { 'Content-Type': 'text/plain;charset=UTF-8' }, data: '', timeout: 60_000 });
    expect(polls[0]!.url).toMatch(/^https:\/\/push\.example\.com\/pusher\/app\/k1\/\d+\/[0-9a-v]{16}\/xhr\?protocol=7&/);

    polls[0]!.answer(`o\na${JSON.stringify([JSON.stringify(established('9.9'))])}\n`);
    expect(push.connection.state).toBe('connected');
    expect(polls).toHaveLength(2); // the next poll
    push.subscribe('news');
    const send = polls[2]!;
    expect(send.url).toMatch(/\/xhr_send$/);
    expect(JSON.parse(send.data)).toEqual([JSON.stringify({ event: 'pusher:subscribe', data: { auth: '', channel: 'news' } })]);

    push.disconnect();
    expect(polls[1]!.aborted).toBe(true);
    expect(push.connection.state).toBe('disconnected');
  });

  it('needs the uni global, or an explicit platform', () => {
    delete (globalThis as { uni?: UniApi }).uni;
    expect(() => new UniPush({ url: 'ws://x', app_key: 'k' })).toThrow(/`uni` global is missing/);
  });
});
