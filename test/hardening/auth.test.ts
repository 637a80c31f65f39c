/**
 * Authentication: every signature comparison goes through crypto.timingSafeEqual; REST requests
 * outside the ±600 s window or with a wrong body_md5 are refused on a live gateway; and the app key
 * alone (public: it is in every page that uses Pusher) never grants private, presence, encrypted,
 * cache or user-channel access, sign-in, client events, or REST access.
 */
import cryptoModule, { createHmac } from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { md5Hex, signChannel, signUser, verifyApiRequest, verifyAuthValue, parseQueryString, signApiRequest } from '@herald/protocol';
import { RawClient, rawRequest, signedRequest, startTestGateway, type TestGateway } from '@herald/test-support';

const hmac = (secret: string, s: string) => createHmac('sha256', secret).update(s).digest('hex');

/**
 * Records every crypto.timingSafeEqual call (the real one still answers). The builtin's ESM named
 * exports are re-synced, so `import { timingSafeEqual } from 'node:crypto'` in the protocol
 * package sees the recorder too.
 */
const realTse = cryptoModule.timingSafeEqual;
let calls: [string, string][] = [];
function recordTimingSafeEqual() {
  cryptoModule.timingSafeEqual = (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
    calls.push([Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString(), Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString()]);
    return realTse(a, b);
  };
  syncBuiltinESMExports();
}
function restoreTimingSafeEqual() {
  cryptoModule.timingSafeEqual = realTse;
  syncBuiltinESMExports();
}
const compared = () => calls;

describe('constant-time comparisons (protocol/src/signature.ts, api-signature.ts)', () => {
  const app = { key: 'the-key', secret: 'the-secret-0123' };
  beforeAll(recordTimingSafeEqual);
  afterAll(restoreTimingSafeEqual);
  beforeEach(() => {
    calls = [];
  });

  it('channel and user auth: the key and the signature are compared with timingSafeEqual', () => {
    const toSign = '123.456:private-x';
    const wrong = hmac('other-secret', toSign);
    expect(verifyAuthValue(`${app.key}:${wrong}`, app, toSign, 'private-x').ok).toBe(false);
    expect(compared()).toEqual([
      [app.key, app.key],
      [wrong, hmac(app.secret, toSign)],
    ]);
    calls = [];
    expect(verifyAuthValue(signUser(app.key, app.secret, '1.2', '{"id":"u"}'), app, '1.2::user::{"id":"u"}', 'user sign-in').ok).toBe(true);
    expect(calls).toHaveLength(2);
  });

  it('REST API: auth_key, body_md5 and auth_signature are compared with timingSafeEqual', () => {
    const body = '{"name":"e","channel":"c","data":"d"}';
    const now = 1_750_000_000;
    const q = signApiRequest({ ...app, method: 'POST', path: '/apps/1/events', body, timestamp: now });
    const params = parseQueryString(q.replace(/auth_signature=[0-9a-f]+/, `auth_signature=${'0'.repeat(64)}`));
    const r = verifyApiRequest({ app, method: 'POST', paths: ['/apps/1/events'], params, rawBody: Buffer.from(body), nowMs: now * 1000 });
    expect(r.ok).toBe(false);
    expect(calls[0]).toEqual([app.key, app.key]);
    expect(calls[1]).toEqual([md5Hex(body), md5Hex(body)]);
    expect(calls[2]![0]).toBe('0'.repeat(64));
    expect(calls).toHaveLength(3);
  });

  it('a signature of the right length is never short-circuited: it reaches timingSafeEqual', () => {
    const toSign = '1.1:private-y';
    for (let i = 0; i < 64; i++) {
      calls = [];
      const good = hmac(app.secret, toSign);
      const bad = good.slice(0, i) + (good[i] === '0' ? '1' : '0') + good.slice(i + 1);
      expect(verifyAuthValue(`${app.key}:${bad}`, app, toSign, 'private-y').ok).toBe(false);
      expect(compared()[1]).toEqual([bad, good]);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('a live gateway: what the app key alone can do', () => {
  let t: TestGateway;
  let insider: RawClient;
  const CHANNELS = ['private-x', 'presence-x', 'private-encrypted-x', 'private-cache-x', 'presence-cache-x', 'private-encrypted-cache-x'];

  beforeAll(async () => {
    t = await startTestGateway();
    // A legitimate member of each channel, to prove nothing reaches it from the attacker.
    insider = await RawClient.established(t);
    for (const ch of CHANNELS) {
      const data = ch.startsWith('presence-') ? JSON.stringify({ user_id: 'insider' }) : undefined;
      const auth = signChannel(t.app.key, t.app.secret, insider.socketId, ch, data);
      expect((await insider.subscribe(ch, { auth, ...(data ? { channel_data: data } : {}) })).event).toBe('pusher_internal:subscription_succeeded');
    }
  });
  afterAll(async () => {
    await insider?.[Symbol.asyncDispose]();
    await t?.close();
  });

  /** Auth values an attacker who knows the key (and sees other sockets' traffic) could build. */
  function forgeries(key: string, socketId: string, otherSocketId: string, channel: string, data?: string) {
    const str = (sid: string, ch: string, d = data) => (d === undefined ? `${sid}:${ch}` : `${sid}:${ch}:${d}`);
    return {
      'the key alone': key,
      'key and an empty signature': `${key}:`,
      'key and zeros': `${key}:${'0'.repeat(64)}`,
      'signed with the key as secret': `${key}:${hmac(key, str(socketId, channel))}`,
      'signed with an empty secret': `${key}:${hmac('', str(socketId, channel))}`,
      'a valid auth of another socket': signChannel(key, t.app.secret, otherSocketId, channel, data),
      'a valid auth of another channel': signChannel(key, t.app.secret, socketId, channel + '-other', data),
      'the right signature with a second colon': `${signChannel(key, t.app.secret, socketId, channel, data)}:x`,
      'the right signature upper-cased': `${key}:${hmac(t.app.secret, str(socketId, channel)).toUpperCase()}`,
    };
  }

  it.each(CHANNELS)('%s: no forged auth subscribes; the socket stays open; counts unchanged', async (channel) => {
    await using attacker = await RawClient.established(t);
    await using other = await RawClient.established(t);
    const data = channel.startsWith('presence-') ? JSON.stringify({ user_id: 'attacker' }) : undefined;
    const cases = Object.entries(forgeries(t.app.key, attacker.socketId, other.socketId, channel, data));
    if (data !== undefined) {
      // presence: channel_data changed after a valid signature (another user id)
      const auth = signChannel(t.app.key, t.app.secret, attacker.socketId, channel, data);
      cases.push(['valid auth, channel_data swapped to another user', auth]);
    }
    for (const [what, auth] of cases) {
      const channelData = what.startsWith('valid auth, channel_data swapped') ? JSON.stringify({ user_id: 'insider' }) : data;
      const f = await attacker.subscribe(channel, { auth, ...(channelData ? { channel_data: channelData } : {}) });
      expect({ what, event: f.event, type: (f.data as { type?: string }).type }).toEqual({ what, event: 'pusher:subscription_error', type: 'AuthError' });
    }
    // Client events from the refused socket are rejected, and the insider gets nothing.
    const mark = attacker.frames.length;
    attacker.send({ event: 'client-evil', channel, data: { x: 1 } });
    await attacker.waitFor((f) => attacker.frames.indexOf(f) >= mark && f.event === 'pusher:error');
    expect(attacker.closeCode).toBeUndefined();
    const info = await (await t.sdk.get({ path: `/channels/${channel}`, params: { info: 'subscription_count' } })).json();
    expect(info).toEqual({ occupied: true, subscription_count: 1 });
    if (channel.startsWith('presence-')) {
      expect(await (await t.sdk.get({ path: `/channels/${channel}/users` })).json()).toEqual({ users: [{ id: 'insider' }] });
    }
    // (raw trigger: the SDK refuses encrypted channels without a master key; Herald relays them opaque)
    const body = JSON.stringify({ name: 'after', channel, data: '{}' });
    expect((await signedRequest(t.apiPort, t.app, { method: 'POST', path: `/apps/${t.app.id}/events`, body })).status).toBe(200);
    await insider.waitFor((f) => f.event === 'after' && f.channel === channel);
    expect(insider.events('client-evil')).toEqual([]);
  });

  it('sign-in with user_data signed by the key is refused (4009), and #server-to-user- stays closed', async () => {
    await using attacker = await RawClient.established(t);
    const userData = JSON.stringify({ id: 'victim' });
    for (const auth of [t.app.key, `${t.app.key}:`, `${t.app.key}:${hmac(t.app.key, `${attacker.socketId}::user::${userData}`)}`]) {
      const mark = attacker.frames.length;
      attacker.send({ event: 'pusher:signin', data: { auth, user_data: userData } });
      const f = await attacker.waitFor((x) => attacker.frames.indexOf(x) >= mark && (x.event === 'pusher:error' || x.event === 'pusher:signin_success'));
      expect(f).toMatchObject({ event: 'pusher:error', data: { code: 4009 } });
    }
    const f = await attacker.subscribe('#server-to-user-victim');
    expect(f.event).toBe('pusher:subscription_error');
    expect(attacker.closeCode).toBeUndefined();
  });

  it('REST requests signed with the key (or nothing) are refused', async () => {
    const body = JSON.stringify({ name: 'evil', channel: 'private-x', data: '{}' });
    const path = `/apps/${t.app.id}/events`;
    for (const secret of [t.app.key, '', t.app.key + t.app.key]) {
      const r = await signedRequest(t.apiPort, { ...t.app, secret }, { method: 'POST', path, body });
      expect(r.status, secret).toBe(401);
    }
    const bare = await rawRequest(t.apiPort, { method: 'POST', path: `${path}?auth_key=${t.app.key}`, headers: { 'content-type': 'application/json' }, body });
    expect(bare.status).toBe(401);
    const getAll = await rawRequest(t.apiPort, {
      method: 'GET',
      path: `/apps/${t.app.id}/channels?auth_key=${t.app.key}&auth_timestamp=${Math.floor(Date.now() / 1000)}&auth_version=1.0&auth_signature=`,
    });
    expect(getAll.status).toBe(401);
    expect(insider.events('evil')).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('a live gateway: REST timestamp window and body_md5', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => {
    await t?.close();
  });
  const path = () => `/apps/${t.app.id}/channels`;
  const now = () => Math.floor(Date.now() / 1000);

  it('auth_timestamp within ±600 s (with a 2 s margin for the clock tick) is accepted; 601 s or more off is refused', async () => {
    for (const skew of [-598, -1, 0, 1, 598]) {
      expect((await signedRequest(t.apiPort, t.app, { method: 'GET', path: path(), timestamp: now() + skew })).status, String(skew)).toBe(200);
    }
    for (const skew of [-602, -601 - 3600, 602, 86_400, -now()]) {
      const r = await signedRequest(t.apiPort, t.app, { method: 'GET', path: path(), timestamp: now() + skew });
      expect(r.status, String(skew)).toBe(401);
      expect(JSON.parse(r.body)).toEqual({ error: expect.stringMatching(/^Timestamp expired/), code: 401, error_code: 'PUSH_ERR_INVALID_SIGNATURE' });
    }
  });

  it('body_md5 is verified over the exact body bytes', async () => {
    const events = `/apps/${t.app.id}/events`;
    const body = JSON.stringify({ name: 'e', channel: 'c', data: 'd' });
    expect((await signedRequest(t.apiPort, t.app, { method: 'POST', path: events, body })).status).toBe(200);
    // signed over one body, another sent (same length, one byte changed)
    const q = signApiRequest({ ...t.app, method: 'POST', path: events, body });
    const changed = body.replace('"d"', '"e"');
    const r1 = await rawRequest(t.apiPort, { method: 'POST', path: `${events}?${q}`, headers: { 'content-type': 'application/json' }, body: changed });
    expect(r1.status).toBe(401);
    // no body_md5 at all
    const q2 = signApiRequest({ ...t.app, method: 'POST', path: events });
    const r2 = await rawRequest(t.apiPort, { method: 'POST', path: `${events}?${q2}`, headers: { 'content-type': 'application/json' }, body });
    expect(r2.status).toBe(401);
    // trailing whitespace is a different body
    const r3 = await rawRequest(t.apiPort, { method: 'POST', path: `${events}?${q}`, headers: { 'content-type': 'application/json' }, body: body + '\n' });
    expect(r3.status).toBe(401);
    for (const r of [r1, r2, r3]) expect(r.body).not.toContain(t.app.secret);
  });
});
