import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { RawClient, startTestGateway, type TestGateway } from '@herald/test-support';

/** Every sample of herald_limit_refusals_total, by its `limit` label. */
async function limitCounts(apiUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${apiUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^herald_limit_refusals_total\{[^}]*limit="([a-z_]+)"[^}]*\} (\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** Only `limit` was counted, `n` times: a refusal is counted under its own limit and nowhere else. */
async function expectOnly(t: TestGateway, limit: string, n: number) {
  await expect.poll(() => limitCounts(t.apiUrl)).toEqual({ [limit]: n });
}

const presenceAuth = (t: TestGateway, socketId: string, channel: string, member: { user_id: string; user_info?: Record<string, unknown> }) => {
  const { auth, channel_data } = t.sdk.authorizeChannel(socketId, channel, member);
  return { auth, channel_data };
};

describe('every limit is counted in herald_limit_refusals_total{limit}', () => {
  it('starts with no refusal counted', async () => {
    await using t = await startTestGateway();
    expect(await limitCounts(t.apiUrl)).toEqual({});
  });

  it('frame_size: a frame over maxPayloadLength cuts its socket and is counted; others are served', async () => {
    await using t = await startTestGateway({ maxPayloadLength: 1024 });
    await using c = await RawClient.established(t);
    await using other = await RawClient.established(t);
    c.send({ event: 'pusher:ping', data: 'x'.repeat(2000) });
    expect([1009, 1006]).toContain(await c.closed);
    await expectOnly(t, 'frame_size', 1);
    await other.subscribe('still-here');
  });

  it('event_payload: an API trigger over maxEventPayloadBytes (413) and a client event over it', async () => {
    await using t = await startTestGateway({ apps: [{ maxEventPayloadBytes: 100 }] });
    const status = await t.sdk.trigger('a', 'e', 'x'.repeat(101)).then(
      (r) => r.status,
      (e: { status: number }) => e.status,
    );
    expect(status).toBe(413);
    await expectOnly(t, 'event_payload', 1);
    await using c = await RawClient.established(t);
    const { auth } = t.sdk.authorizeChannel(c.socketId, 'private-a');
    expect((await c.subscribe('private-a', { auth })).event).toBe('pusher_internal:subscription_succeeded');
    c.send({ event: 'client-big', channel: 'private-a', data: 'y'.repeat(200) });
    await c.waitFor((f) => f.event === 'pusher:error');
    await expectOnly(t, 'event_payload', 2);
  });

  it('request_body: a body over the API body limit (413)', async () => {
    await using t = await startTestGateway();
    const res = await fetch(`${t.apiUrl}/apps/${t.app.id}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(300 * 1024),
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ code: 413, error_code: 'PUSH_ERR_BODY_TOO_LARGE' });
    await expectOnly(t, 'request_body', 1);
  });

  it('channels_per_connection: a subscription over maxChannelsPerConnection', async () => {
    await using t = await startTestGateway({ apps: [{ maxChannelsPerConnection: 2 }] });
    await using c = await RawClient.established(t);
    await c.subscribe('one');
    await c.subscribe('two');
    expect((await c.subscribe('three')).event).toBe('pusher:subscription_error');
    await expectOnly(t, 'channels_per_connection', 1);
  });

  it('presence_members and presence_user_info', async () => {
    await using t = await startTestGateway({ apps: [{ maxPresenceMembers: 1, maxPresenceUserInfoBytes: 64 }] });
    await using a = await RawClient.established(t);
    await using b = await RawClient.established(t);
    const ch = 'presence-room';
    expect((await a.subscribe(ch, presenceAuth(t, a.socketId, ch, { user_id: 'a' }))).event).toBe('pusher_internal:subscription_succeeded');
    expect((await b.subscribe(ch, presenceAuth(t, b.socketId, ch, { user_id: 'b' }))).event).toBe('pusher:subscription_error');
    await expectOnly(t, 'presence_members', 1);
    const big = presenceAuth(t, b.socketId, 'presence-other', { user_id: 'b', user_info: { bio: 'z'.repeat(100) } });
    expect((await b.subscribe('presence-other', big)).event).toBe('pusher:subscription_error');
    await expect.poll(() => limitCounts(t.apiUrl)).toEqual({ presence_members: 1, presence_user_info: 1 });
  });

  it('client_events_rate: client events over maxClientEventsPerSecond', async () => {
    await using t = await startTestGateway({ apps: [{ maxClientEventsPerSecond: 2 }] });
    await using c = await RawClient.established(t);
    const { auth } = t.sdk.authorizeChannel(c.socketId, 'private-r');
    await c.subscribe('private-r', { auth });
    for (let i = 0; i < 5; i++) c.send({ event: 'client-x', channel: 'private-r', data: {} });
    // Frames of a socket are handled in order: once the ping is answered, every refusal has been sent.
    c.send({ event: 'pusher:ping', data: {} });
    await c.waitFor((f) => f.event === 'pusher:pong');
    const refused = c.events('pusher:error').length;
    expect(refused).toBeGreaterThanOrEqual(1);
    expect(refused).toBeLessThanOrEqual(3);
    await expectOnly(t, 'client_events_rate', refused);
  });

  it('api_rate: REST requests over maxApiRequestsPerSecond (429)', async () => {
    await using t = await startTestGateway({ apps: [{ maxApiRequestsPerSecond: 2 }] });
    // At once: six requests one after the other could span three clock seconds on a busy machine
    const statuses = await Promise.all(
      Array.from({ length: 6 }, () =>
        t.sdk.trigger('a', 'e', {}).then(
          (r) => r.status,
          (e: { status: number }) => e.status,
        ),
      ),
    );
    const refused = statuses.filter((s) => s === 429).length;
    expect(refused).toBeGreaterThanOrEqual(1);
    await expectOnly(t, 'api_rate', refused);
  });

  it('app_connections (4004) and connection_rate (4100)', async () => {
    await using t = await startTestGateway({ apps: [{ maxConnections: 1 }] });
    await using first = await RawClient.established(t);
    await using second = await RawClient.connect(`ws://127.0.0.1:${t.wsPort}/app/${t.app.key}`);
    expect(await second.closed).toBe(4004);
    await expectOnly(t, 'app_connections', 1);

    await using r = await startTestGateway({ maxConnectionsPerSecond: 2 });
    const url = `ws://127.0.0.1:${r.wsPort}/app/${r.app.key}`;
    const clients = await Promise.all(Array.from({ length: 5 }, () => RawClient.connect(url)));
    try {
      await expect.poll(() => clients.filter((c) => c.socketId !== '' || c.closeCode !== undefined).length).toBe(5);
      const refused = clients.filter((c) => c.closeCode === 4100).length;
      expect(refused).toBeGreaterThanOrEqual(1);
      await expectOnly(r, 'connection_rate', refused);
    } finally {
      for (const c of clients) await c[Symbol.asyncDispose]();
    }
  });

  it('HTTP errors raised before routing keep the {"error", "code"} body', async () => {
    await using t = await startTestGateway();
    const res = await fetch(`${t.apiUrl}/apps/${t.app.id}/channels/%E0%A4%A`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'Invalid URL', code: 400, error_code: 'PUSH_ERR_INVALID_URL' });
    // A request the HTTP parser refuses gets a JSON body too.
    const raw = await new Promise<string>((resolve, reject) => {
      const s = net.connect(t.apiPort, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'));
      let buf = '';
      s.on('data', (d) => (buf += d.toString()));
      s.on('close', () => resolve(buf));
      s.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toEqual({
      error: 'Malformed HTTP request',
      code: 400,
      error_code: 'PUSH_ERR_MALFORMED_REQUEST',
    });
  });
});
