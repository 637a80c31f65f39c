import Pusher from 'pusher';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HeraldApiError, HeraldApiErrorCode } from './errors.js';
import { resolveOptions } from './options.js';
import {
  encodePathSegment,
  prepareBatch,
  prepareChannel,
  prepareChannels,
  prepareSendToUser,
  prepareTerminate,
  prepareTrigger,
  prepareUsers,
  type PreparedRequest,
  type RequestContext,
} from './requests.js';

const KEY = '278d425bdf160c739803';
const SECRET = '7ad3773142a6692b25b8';
const NOW_S = 1_700_000_000;

const ctxFor = (opts: Partial<Parameters<typeof resolveOptions>[3]> = {}): RequestContext => {
  const o = resolveOptions('http://127.0.0.1:3232', KEY, SECRET, { appId: '3', ...opts });
  return { key: KEY, secret: SECRET, appId: o.appId, pathPrefix: o.pathPrefix, encode: o.encode, masterKey: o.masterKey, limits: o.limits };
};
const ctx = ctxFor();

/** What pusher-http-node would send: its post()/get() options captured, then signed by its own code. */
function officialRequest(call: (p: Pusher) => unknown, method: 'GET' | 'POST' = 'POST') {
  const p = new Pusher({ appId: '3', key: KEY, secret: SECRET, host: '127.0.0.1' });
  let captured: { path: string; body?: unknown; params?: Record<string, string> } | undefined;
  p.post = ((o: typeof captured) => ((captured = o), Promise.resolve())) as never;
  p.get = ((o: typeof captured) => ((captured = o), Promise.resolve())) as never;
  void call(p);
  const path = `/apps/3${captured!.path}`;
  const body = captured!.body === undefined ? undefined : JSON.stringify(captured!.body);
  const query = p.createSignedQueryString({ method, path, body, params: captured!.params });
  return { target: `${path}?${query}`, body };
}

const split = (r: PreparedRequest) => ({ target: r.target, body: r.body });

describe('request signing: identical to pusher-http-node (auth_version 1.0, body_md5)', () => {
  beforeEach(() => {
    vi.spyOn(Date, 'now').mockReturnValue(NOW_S * 1000);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('trigger on several channels with an object, socket_id and info: same query string and body', () => {
    const ours = prepareTrigger(
      ctx,
      ['my-channel', 'presence-foobar'],
      'my-event',
      { message: 'hello world' },
      { socketId: '1234.1234', info: 'user_count,subscription_count' },
    );
    const theirs = officialRequest((p) =>
      p.trigger(['my-channel', 'presence-foobar'], 'my-event', { message: 'hello world' }, { socket_id: '1234.1234', info: 'user_count,subscription_count' }),
    );
    expect(split(ours)).toEqual(theirs);
    expect(ours.target).toContain(`auth_timestamp=${NOW_S}&auth_version=1.0&body_md5=`);
  });

  it.each([
    ['a string, sent as-is', 'plain text', ['ch1']],
    ['a JSON string', '{"a":1}', ['ch1', 'ch2']],
    ['a number', 42, ['ch1']],
    ['unicode', { s: 'é ✓ 🎉 </script>' }, ['private-x']],
  ])('trigger with %s', (_what, data, channels) => {
    expect(split(prepareTrigger(ctx, channels, 'ev', data))).toEqual(officialRequest((p) => p.trigger(channels, 'ev', data)));
  });

  it('a user channel (pusher-http-node refuses it in trigger, sendToUser is its way in)', () => {
    expect(split(prepareTrigger(ctx, '#server-to-user-10', 'ev', 'x'))).toEqual(officialRequest((p) => p.sendToUser('10', 'ev', 'x')));
  });

  it('a single channel name is sent as channels: [name], like pusher-http-node', () => {
    expect(split(prepareTrigger(ctx, 'ch1', 'ev', { x: 1 }))).toEqual(officialRequest((p) => p.trigger('ch1', 'ev', { x: 1 })));
  });

  it('triggerBatch', () => {
    const ours = prepareBatch(ctx, [
      { channel: 'my-channel', name: 'a', data: { x: 1 } },
      { channel: 'presence-foobar', name: 'b', data: 'raw', socketId: '1.2', info: 'user_count' },
    ]);
    const theirs = officialRequest((p) =>
      p.triggerBatch([
        { channel: 'my-channel', name: 'a', data: { x: 1 } },
        { channel: 'presence-foobar', name: 'b', data: 'raw', socket_id: '1.2', info: 'user_count' },
      ]),
    );
    expect(split(ours)).toEqual(theirs);
  });

  it('terminateUserConnections and sendToUser', () => {
    expect(split(prepareTerminate(ctx, '10'))).toEqual(officialRequest((p) => p.terminateUserConnections('10')));
    expect(split(prepareSendToUser(ctx, '10', 'ev', { a: 1 }))).toEqual(officialRequest((p) => p.sendToUser('10', 'ev', { a: 1 })));
  });

  it('GET channels, channel and users: same signature (values escaped on the wire, signed raw)', () => {
    const cases: [PreparedRequest, ReturnType<typeof officialRequest>][] = [
      [prepareChannels(ctx), officialRequest((p) => p.get({ path: '/channels' }), 'GET')],
      [
        prepareChannels(ctx, { prefix: 'presence-', info: ['user_count'] }),
        officialRequest((p) => p.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } }), 'GET'),
      ],
      [
        prepareChannel(ctx, 'presence-foobar', { info: ['user_count', 'subscription_count'] }),
        officialRequest((p) => p.get({ path: '/channels/presence-foobar', params: { info: 'user_count,subscription_count' } }), 'GET'),
      ],
      [prepareUsers(ctx, 'presence-foobar'), officialRequest((p) => p.get({ path: '/channels/presence-foobar/users' }), 'GET')],
    ];
    for (const [ours, theirs] of cases) {
      // pusher-http-node leaves the comma raw in the query; we send %2C (both verify: the server decodes).
      expect(decodeURIComponent(ours.target)).toBe(theirs.target);
      expect(ours.body).toBeUndefined();
      const sig = (t: string) => new URLSearchParams(t.split('?')[1]).get('auth_signature');
      expect(sig(ours.target)).toBe(sig(theirs.target));
    }
  });
});

describe('spec vectors (docs/reference/rest-api.md#worked-examples)', () => {
  const at = { ...ctx, timestamp: NOW_S };

  it('B: trigger with socket_id exclusion and info, exact request line and body', () => {
    const r = prepareTrigger(
      at,
      ['my-channel', 'presence-foobar'],
      'my-event',
      { message: 'hello world' },
      { socketId: '1234.1234', info: ['user_count', 'subscription_count'] },
    );
    expect(r.body).toBe(
      '{"name":"my-event","data":"{\\"message\\":\\"hello world\\"}","channels":["my-channel","presence-foobar"],"socket_id":"1234.1234","info":"user_count,subscription_count"}',
    );
    expect(`${r.method} ${r.target}`).toBe(
      'POST /apps/3/events?auth_key=278d425bdf160c739803&auth_timestamp=1700000000&auth_version=1.0&body_md5=e8cf0fa12cd6e76e50ceff2647985a3d&auth_signature=c22d60e2ce62fa102003f0d16069bc71010d193e2e84b7523015e68fdfd61fa3',
    );
  });

  it('C: channels with filter and info', () => {
    const r = prepareChannels(at, { prefix: 'presence-', info: 'user_count' });
    expect(new URLSearchParams(r.target.split('?')[1]).get('auth_signature')).toBe('5142c71a4248ef5f3ec45e8793d8997773f1d19ce69ee6f6b1d75131d8aa0a6a');
  });

  it('E: terminate connections, body {}', () => {
    const r = prepareTerminate(at, '10');
    expect(r.body).toBe('{}');
    expect(r.target).toBe(
      '/apps/3/users/10/terminate_connections?auth_key=278d425bdf160c739803&auth_timestamp=1700000000&auth_version=1.0&body_md5=99914b932bd37a50b983c5e7c90ae93b&auth_signature=0949f16377da57e45fb7669618c0a018f76db96d7b5774fc83889463853512c0',
    );
  });

  it('F: batch_events', () => {
    const r = prepareBatch(at, [
      { channel: 'my-channel', name: 'a', data: { x: 1 } },
      { channel: 'presence-foobar', name: 'b', data: { x: 2 }, info: 'user_count' },
    ]);
    expect(r.body).toBe(
      '{"batch":[{"channel":"my-channel","name":"a","data":"{\\"x\\":1}"},{"channel":"presence-foobar","name":"b","data":"{\\"x\\":2}","info":"user_count"}]}',
    );
    expect(r.target).toContain('body_md5=42cf6b407a3c5b9e05cba7aa0bd8fc22&auth_signature=3783a4695c801aede0f201ca541ffc37c40a6acdd160bf54bdb2499cce603b85');
  });
});

describe('paths', () => {
  it('keeps channel-name characters raw in the path, escapes the rest and signs the raw form', () => {
    expect(encodePathSegment('presence-a=b@c,d;e.f_g')).toBe('presence-a=b@c,d;e.f_g');
    expect(encodePathSegment('auth0|5f7c#x/y')).toBe('auth0%7C5f7c%23x%2Fy');
    const r = prepareTerminate({ ...ctx, timestamp: NOW_S }, 'auth0|5f7c');
    expect(r.signedPath).toBe('/apps/3/users/auth0|5f7c/terminate_connections');
    expect(r.target.startsWith('/apps/3/users/auth0%7C5f7c/terminate_connections?')).toBe(true);
  });

  it('puts a base-URL path prefix in front without signing it', () => {
    const prefixed = { ...ctx, pathPrefix: '/push', timestamp: NOW_S };
    const plain = prepareTerminate({ ...ctx, timestamp: NOW_S }, '10');
    expect(prepareTerminate(prefixed, '10').target).toBe(`/push${plain.target}`);
  });
});

describe('data encoding', () => {
  const data = (r: PreparedRequest) => (JSON.parse(r.body!) as { data: string }).data;

  it("auto: strings as-is, everything else JSON-encoded once; 'always' encodes strings too (webman PHP)", () => {
    expect(data(prepareTrigger(ctx, 'c', 'e', 'hi'))).toBe('hi');
    expect(data(prepareTrigger(ctx, 'c', 'e', { a: [1] }))).toBe('{"a":[1]}');
    expect(data(prepareTrigger(ctx, 'c', 'e', null))).toBe('null');
    expect(data(prepareTrigger(ctx, 'c', 'e', 'hi', { encode: 'always' }))).toBe('"hi"');
    expect(data(prepareTrigger(ctxFor({ encode: 'always' }), 'c', 'e', 'hi'))).toBe('"hi"');
    expect(data(prepareTrigger(ctxFor({ encode: 'always' }), 'c', 'e', 'hi', { encode: 'auto' }))).toBe('hi');
    const batch = JSON.parse(prepareBatch(ctx, [{ channel: 'c', name: 'e', data: 'hi', encode: 'always' }]).body!) as { batch: { data: string }[] };
    expect(batch.batch[0]!.data).toBe('"hi"');
  });

  it('encrypts for a private-encrypted- channel when a master key is set', () => {
    const enc = ctxFor({ encryptionMasterKeyBase64: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=' });
    const env = JSON.parse(data(prepareTrigger(enc, 'private-encrypted-x', 'e', { a: 1 }))) as Record<string, string>;
    expect(Object.keys(env)).toEqual(['nonce', 'ciphertext']);
    expect(Buffer.from(env.nonce!, 'base64')).toHaveLength(24);
  });
});

describe('validation before sending (status 0, nothing sent)', () => {
  const refuse = (fn: () => unknown, re: RegExp) => {
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HeraldApiError);
    expect((err as HeraldApiError).code).toBe(HeraldApiErrorCode.InvalidArgument);
    expect((err as HeraldApiError).status).toBe(0);
    expect((err as HeraldApiError).message).toMatch(re);
  };

  it('channels: names, count, presence for users()', () => {
    refuse(() => prepareTrigger(ctx, [], 'e', 'd'), /At least one channel/);
    refuse(() => prepareTrigger(ctx, ['ok', 'not ok'], 'e', 'd'), /Invalid channel name: "not ok"/);
    refuse(() => prepareTrigger(ctx, `c${'x'.repeat(200)}`, 'e', 'd'), /Invalid channel name/);
    refuse(() => prepareTrigger(ctx, '#server-to-user-', 'e', 'd'), /Invalid channel name/);
    refuse(() => prepareTrigger(ctx, 42 as never, 'e', 'd'), /At least one channel/);
    const many = Array.from({ length: 101 }, (_, i) => `c${i}`);
    refuse(() => prepareTrigger(ctx, many, 'e', 'd'), /more than 100 channels/);
    expect(() => prepareTrigger(ctx, many.slice(0, 100), 'e', 'd')).not.toThrow();
    refuse(() => prepareUsers(ctx, 'private-x'), /presence- channel/);
    refuse(() => prepareChannel(ctx, 'a b'), /Invalid channel name/);
  });

  it('event names up to 200 characters', () => {
    refuse(() => prepareTrigger(ctx, 'c', '', 'd'), /Invalid event name/);
    refuse(() => prepareTrigger(ctx, 'c', 'e'.repeat(201), 'd'), /1 to 200 characters/);
    expect(() => prepareTrigger(ctx, 'c', 'e'.repeat(200), 'd')).not.toThrow();
  });

  it('socket ids ^\\d+\\.\\d+$', () => {
    for (const bad of ['', '1', '1.', 'a.1', '1.2.3', ' 1.2', '1.2\n'])
      refuse(() => prepareTrigger(ctx, 'c', 'e', 'd', { socketId: bad }), /Invalid socket id/);
    refuse(() => prepareBatch(ctx, [{ channel: 'c', name: 'e', data: 'd', socketId: 'x' }]), /Invalid socket id/);
  });

  it('data up to 10 KB (UTF-8 bytes of what is sent) by default, configurable', () => {
    expect(() => prepareTrigger(ctx, 'c', 'e', 'x'.repeat(10_240))).not.toThrow();
    refuse(() => prepareTrigger(ctx, 'c', 'e', 'x'.repeat(10_241)), /10241 bytes, over the 10240-byte limit/);
    refuse(() => prepareTrigger(ctx, 'c', 'e', 'é'.repeat(5_121)), /10242 bytes/);
    refuse(() => prepareTrigger(ctx, 'c', 'e', 'x'.repeat(10_239), { encode: 'always' }), /10241 bytes/);
    expect(() => prepareTrigger(ctxFor({ limits: { maxEventPayloadBytes: 20_000 } }), 'c', 'e', 'x'.repeat(15_000))).not.toThrow();
  });

  it('data that JSON cannot encode', () => {
    refuse(() => prepareTrigger(ctx, 'c', 'e', undefined), /cannot be JSON-encoded/);
    refuse(() => prepareTrigger(ctx, 'c', 'e', 10n), /cannot be JSON-encoded/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    refuse(() => prepareTrigger(ctx, 'c', 'e', cyclic), /cannot be JSON-encoded/);
  });

  it('info attribute names', () => {
    refuse(() => prepareTrigger(ctx, 'c', 'e', 'd', { info: 'user_count&x=1' }), /Invalid info/);
    refuse(() => prepareChannels(ctx, { info: [1] as never }), /Invalid info/);
  });

  it('encrypted channels: alone, and only with a master key', () => {
    const enc = ctxFor({ encryptionMasterKeyBase64: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=' });
    refuse(() => prepareTrigger(enc, ['private-encrypted-a', 'b'], 'e', 'd'), /on that channel alone/);
    refuse(() => prepareTrigger(ctx, 'private-encrypted-a', 'e', 'd'), /encryptionMasterKeyBase64/);
  });

  it('batches: 1 to 10 items, each validated before anything is built', () => {
    refuse(() => prepareBatch(ctx, []), /at least one event/);
    const item = { channel: 'c', name: 'e', data: 'd' };
    refuse(
      () =>
        prepareBatch(
          ctx,
          Array.from({ length: 11 }, () => item),
        ),
      /more than 10 events/,
    );
    refuse(() => prepareBatch(ctx, [item, { ...item, channel: 'bad name' }]), /Invalid channel name/);
    refuse(() => prepareBatch(ctx, [item, null as never]), /must be an object/);
  });

  it('user ids for terminate and sendToUser', () => {
    refuse(() => prepareTerminate(ctx, ''), /Invalid user id/);
    refuse(() => prepareSendToUser(ctx, 'a\nb', 'e', 'd'), /Invalid user id/);
    refuse(() => prepareTerminate(ctx, 'x'.repeat(201)), /Invalid user id/);
    expect(() => prepareTerminate(ctx, 'x'.repeat(200))).not.toThrow();
  });
});
