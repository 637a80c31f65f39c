/**
 * The shipped balancer configs run for real on loopback in front of a real gateway (the built
 * dist): Debian's nginx with deploy/nginx/nginx.conf and nginx-tls.conf, and HAProxy with
 * deploy/haproxy/haproxy.cfg (its TLS frontend uncommented). Only addresses, log paths and the
 * certificate are substituted (runnableNginxConfig, runnableHaproxyConfig), and, where a limit is
 * exercised, its number is replaced by a test-sized one in that copy only.
 *
 * Checked: the browser client (/push.js and webman's /plugin/webman/push/push.js) is served
 * through each; nothing else of the API port is (metrics, admin, dashboard); pusher-js's HTTP
 * fallbacks pass on the WebSocket port (a stream's lines arrive while its answer stays open, long
 * polls and sends, the CORS preflight; other methods refused); the shipped limits let a burst
 * through; one address is refused with 429 beyond the per-address WebSocket and request limits, an
 * HTTP fallback stream counts with the WebSockets, and a WebSocket slot is given back when a
 * socket closes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import Pusher from 'pusher';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Edit,
  type FallbackFrame,
  fallbackRequest,
  fallbackSession,
  fallbackUrl,
  freePort,
  haproxyServers,
  type NodeHandle,
  randomTestApp,
  rawDataText,
  repoPath,
  runnableHaproxyConfig,
  runnableNginxConfig,
  selfSignedCert,
  sendBody,
  startHaproxy,
  startNginx,
  startNode,
  tempDir,
  type TestApp,
  waitHaproxyServersUp,
} from '@herald/test-support';

const BUNDLE = repoPath('packages', 'client', 'dist', 'push.js');
const CLIENT_PATHS = ['/push.js', '/plugin/webman/push/push.js'];

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One GET (a fresh connection each time, so per-connection state never hides a limit). */
function get(url: string, ca?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = send(url, { method: 'GET', agent: false, ...(ca ? { ca } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

type Upgrade = { ok: true; status: 101; ws: WebSocket } | { ok: false; status: number; body: string };

/** The socket of an upgrade that must have succeeded. */
const socketOf = (u: Upgrade): WebSocket => {
  if (!u.ok) throw new Error(`upgrade refused: ${u.status} ${u.body}`);
  return u.ws;
};

/** A Pusher WebSocket handshake: 101 with the open socket (after connection_established), or the refusal. */
function upgrade(url: string, ca?: string): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ca ? { ca } : {});
    ws.once('message', (data) => {
      const text = rawDataText(data);
      const frame = JSON.parse(text) as { event: string };
      if (frame.event === 'pusher:connection_established') resolve({ ok: true, status: 101, ws });
      else reject(new Error(`unexpected first frame ${text}`));
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ ok: false, status: res.statusCode ?? 0, body }));
    });
    ws.once('error', (err) => reject(err));
  });
}

const closeAll = async (sockets: WebSocket[]) => {
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          ws.once('close', () => resolve());
          ws.close();
        }),
    ),
  );
};

const established = (f: FallbackFrame) => f.event === 'pusher:connection_established';

/** A balancer under test: where clients reach it. `ca` set when it speaks TLS. */
interface Front {
  wsBase: string;
  apiBase: string;
  ca?: string;
  /** Evidence that a 429 came from the balancer's limit, not from the gateway. */
  refusedByBalancer(r: { body: string }, limit: 'connections' | 'requests'): void;
}

/** pusher-js's HTTP fallbacks go to the WebSocket port, as http(s):// (its httpHost and httpPort). */
const fallbackBase = (f: Front) => f.wsBase.replace(/^ws/, 'http');

/** The shared checks, run against each balancer as shipped (addresses substituted only). */
function shippedChecks(name: string, front: () => Front, app: () => TestApp, sdk: () => Pusher) {
  it(`${name}: serves /push.js and webman's /plugin/webman/push/push.js (200, JavaScript, the built bundle)`, async () => {
    const f = front();
    const bundle = readFileSync(BUNDLE, 'utf8');
    for (const path of CLIENT_PATHS) {
      const r = await get(`${f.apiBase}${path}`, f.ca);
      expect(r.status, path).toBe(200);
      expect(r.headers['content-type'], path).toMatch(/^application\/javascript/);
      expect(r.body, path).toBe(bundle);
    }
  });

  it(`${name}: passes WebSockets and the REST API on, and nothing else of the API port`, async () => {
    const f = front();
    const up = await upgrade(`${f.wsBase}/app/${app().key}?protocol=7&client=js&version=8.6.0`, f.ca);
    expect(up.status).toBe(101);
    await closeAll([socketOf(up)]);
    // Unsigned, so the gateway answers 401 (its JSON error): it got there.
    const api = await get(`${f.apiBase}/apps/${app().id}/channels`, f.ca);
    expect(api.status).toBe(401);
    expect(api.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(api.body)).toMatchObject({ code: 401 });
    for (const path of ['/metrics', '/ready', '/admin/v1/apps', '/dashboard', '/push.jsx', '/plugin/webman/push/other.js']) {
      expect((await get(`${f.apiBase}${path}`, f.ca)).status, path).toBe(404);
    }
  });

  it(`${name}: pusher-js's HTTP fallbacks pass on the WebSocket port: a stream's lines while it stays open, long polls, sends, the preflight`, async () => {
    const f = front();
    const base = fallbackBase(f);
    const key = app().key;
    // A page on another origin, as pusher-js's requests come from one.
    const origin = 'https://page.example';
    const channel = `fallback-${name.replace(/\W/g, '-')}`;
    const subscribe = sendBody([{ event: 'pusher:subscribe', data: { channel } }]);

    // xhr_streaming: every line below reached the client while the gateway kept the answer open,
    // so nothing between them held the answer back (buffered it) until it ended.
    const s = fallbackSession();
    const stream = await fallbackRequest(fallbackUrl(base, key, s, 'xhr_streaming'), { headers: { origin }, ca: f.ca });
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toMatch(/^application\/javascript/);
    expect(stream.headers['access-control-allow-origin']).toBe(origin);
    await stream.waitFrame(established);
    expect(stream.lines[0]).toBe('o');
    const sent = await fallbackRequest(fallbackUrl(base, key, s, 'xhr_send'), { headers: { origin }, body: subscribe, ca: f.ca });
    expect(sent.status).toBe(204);
    await stream.waitFrame((x) => x.event === 'pusher_internal:subscription_succeeded' && x.channel === channel);
    await sdk().trigger(channel, 'streamed', { n: 1 });
    expect((await stream.waitFrame((x) => x.event === 'streamed')).data).toBe(JSON.stringify({ n: 1 }));
    expect(stream.ended()).toBe(false);
    stream.abort();

    // xhr polling: each poll's answer ends at its first lines; a held poll is answered by an event.
    const p = fallbackSession();
    const first = await fallbackRequest(fallbackUrl(base, key, p, 'xhr'), { headers: { origin }, ca: f.ca });
    await first.end;
    expect(first.lines[0]).toBe('o');
    expect(first.frames.map((x) => x.event)).toEqual(['pusher:connection_established']);
    expect((await fallbackRequest(fallbackUrl(base, key, p, 'xhr_send'), { body: subscribe, ca: f.ca })).status).toBe(204);
    const second = await fallbackRequest(fallbackUrl(base, key, p, 'xhr'), { headers: { origin }, ca: f.ca });
    await second.waitFrame((x) => x.event === 'pusher_internal:subscription_succeeded');
    // The next poll waits for data (an event triggered before it asks waits in the session for it).
    const held = fallbackRequest(fallbackUrl(base, key, p, 'xhr'), { headers: { origin }, ca: f.ca });
    await sdk().trigger(channel, 'polled', { n: 2 });
    const third = await held;
    expect(third.status).toBe(200);
    expect((await third.waitFrame((x) => x.event === 'polled')).data).toBe(JSON.stringify({ n: 2 }));

    // The CORS preflight reaches the gateway, which answers it.
    const preflight = await fallbackRequest(fallbackUrl(base, key, fallbackSession(), 'xhr_streaming'), {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      ca: f.ca,
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(origin);
    expect(preflight.headers['access-control-allow-methods']).toMatch(/\bPOST\b/);
    // pusher-js sends nothing else there: other methods are refused by the balancer.
    for (const method of ['GET', 'PUT', 'DELETE']) {
      expect((await fallbackRequest(fallbackUrl(base, key, fallbackSession(), 'xhr_streaming'), { method, ca: f.ca })).status, method).toBe(403);
    }
    // Nothing else under /pusher/ is passed on.
    expect((await get(`${base}/pusher/other`, f.ca)).status).toBe(404);
  });

  it(`${name}: the shipped limits let a burst from one address through (200 requests at once, 20 sockets)`, async () => {
    const f = front();
    const replies = await Promise.all(Array.from({ length: 200 }, () => get(`${f.apiBase}/push.js`, f.ca)));
    expect(replies.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
    const ups = await Promise.all(Array.from({ length: 20 }, () => upgrade(`${f.wsBase}/app/${app().key}?protocol=7`, f.ca)));
    expect(ups.map((u) => u.status)).toEqual(ups.map(() => 101));
    await closeAll(ups.map(socketOf));
  });
}

/** A balancer started for one test, with test-sized limits: 2 sockets and 3 requests per address. */
type StartSmall = () => Promise<{ front: Front; stop: () => Promise<void> }>;

/** The shared limit checks; each starts its own balancer, so one test's traffic never counts in another's. */
function limitChecks(name: string, startSmall: StartSmall, app: () => TestApp) {
  it(`${name}: a third WebSocket from one address is refused with 429; closing one frees its slot`, async () => {
    const { front: f, stop } = await startSmall();
    const url = `${f.wsBase}/app/${app().key}?protocol=7&client=js&version=8.6.0`;
    const open: WebSocket[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const up = await upgrade(url, f.ca);
        expect(up.status, `socket ${i + 1}`).toBe(101);
        open.push(socketOf(up));
      }
      const third = await upgrade(url, f.ca);
      expect(third.status).toBe(429);
      if (third.ok) throw new Error('the third socket was let through');
      f.refusedByBalancer(third, 'connections');
      await closeAll([open.shift()!]);
      // The balancer sees the close on its own schedule: wait for the slot, by trying.
      await expect
        .poll(async () => {
          const again = await upgrade(url, f.ca);
          if (again.ok) open.push(again.ws);
          return again.status;
        })
        .toBe(101);
    } finally {
      await closeAll(open);
      await stop();
    }
  });

  it(`${name}: an HTTP fallback stream counts with the WebSockets: with a WebSocket and a stream open, a second stream is refused with 429`, async () => {
    const { front: f, stop } = await startSmall();
    const base = fallbackBase(f);
    const open: WebSocket[] = [];
    const streams: Awaited<ReturnType<typeof fallbackRequest>>[] = [];
    try {
      open.push(socketOf(await upgrade(`${f.wsBase}/app/${app().key}?protocol=7&client=js&version=8.6.0`, f.ca)));
      const first = await fallbackRequest(fallbackUrl(base, app().key, fallbackSession(), 'xhr_streaming'), { ca: f.ca });
      streams.push(first);
      expect(first.status).toBe(200);
      await first.waitFrame(established);
      const second = await fallbackRequest(fallbackUrl(base, app().key, fallbackSession(), 'xhr_streaming'), { ca: f.ca });
      streams.push(second);
      expect(second.status).toBe(429);
      await second.end;
      f.refusedByBalancer({ body: second.body() }, 'connections');
    } finally {
      for (const st of streams) st.abort();
      await closeAll(open);
      await stop();
    }
  });

  it(`${name}: requests from one address beyond the limit are refused with 429`, async () => {
    const { front: f, stop } = await startSmall();
    try {
      const statuses: number[] = [];
      let refused: Reply | undefined;
      for (let i = 0; i < 6; i++) {
        const r = await get(`${f.apiBase}${i % 2 === 0 ? '/push.js' : `/apps/${app().id}/channels`}`, f.ca);
        statuses.push(r.status);
        if (r.status === 429) refused ??= r;
      }
      // 3 through (200 for the bundle, 401 for the unsigned API call), then refused. HAProxy's
      // rate is a sliding estimate over two periods, rounded down: when the 4th request falls
      // just after a period boundary it can read 3 and pass; the 5th cannot.
      expect(statuses.slice(0, 3)).toEqual([200, 401, 200]);
      expect(statuses.slice(4)).toEqual([429, 429]);
      expect([401, 429]).toContain(statuses[3]);
      f.refusedByBalancer(refused!, 'requests');
    } finally {
      await stop();
    }
  });
}

describe('the shipped balancers in front of a real gateway', () => {
  let app: TestApp;
  let gw: NodeHandle;
  let tmp: ReturnType<typeof tempDir>;
  let cert: Awaited<ReturnType<typeof selfSignedCert>>;
  let ca: string;
  let sdk: Pusher;
  const cleanups: Array<() => void> = [];
  beforeAll(async () => {
    app = randomTestApp();
    tmp = tempDir('balancers');
    // Embedded single node: the balancers only see its two ports.
    [gw, cert] = await Promise.all([startNode({ app }), selfSignedCert(tmp.dir)]);
    ca = readFileSync(cert.cert, 'utf8');
    // Triggers go to the gateway itself: they never count against a balancer's limits.
    sdk = new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(gw.apiPort), useTLS: false });
  });
  afterAll(async () => {
    await gw?.kill('SIGKILL');
    tmp?.cleanup();
    for (const c of cleanups) c();
  });
  const subdir = (name: string) => {
    const d = tempDir(name);
    cleanups.push(d.cleanup);
    return d.dir;
  };

  // ---------------------------------------------------------------------------------- nginx
  const nginxRefused = (errorLog: () => string) => (r: { body: string }, limit: 'connections' | 'requests') => {
    expect(r.body).toMatch(/<center>nginx<\/center>/);
    expect(errorLog()).toMatch(
      limit === 'connections' ? /limiting connections by zone "herald_ws_per_ip"/ : /limiting requests, excess: [\d.]+ by zone "herald_api_per_ip"/,
    );
  };

  for (const file of ['nginx.conf', 'nginx-tls.conf'] as const) {
    const tls = file === 'nginx-tls.conf';
    // Test-sized limits in place of the shipped ones (each must match exactly as many times).
    const small: Edit[] = [
      // (the WebSockets' location and the HTTP fallbacks')
      { from: 'limit_conn herald_ws_per_ip 200;', to: 'limit_conn herald_ws_per_ip 2;', times: 2 },
      // 1 request a minute: none is given back during the test; the first and a burst of 2 pass.
      { from: 'rate=500r/s;', to: 'rate=1r/m;' },
      { from: 'burst=1000 nodelay;', to: 'burst=2 nodelay;', times: tls ? 3 : 1 },
    ];
    const start = async (edits: Edit[]) => {
      const dir = subdir(`nginx-${tls ? 'tls' : 'plain'}`);
      const ports = tls ? { tls: await freePort() } : { ws: await freePort(), api: await freePort() };
      const listen: Record<string, number> = tls ? { '443 ssl': ports.tls! } : { '3131': ports.ws!, '3232': ports.api! };
      const conf = runnableNginxConfig(file, { dir, listen, wsBackends: [gw.wsPort], apiBackends: [gw.apiPort], ...(tls ? { cert } : {}), edits });
      const nginx = await startNginx(conf, dir, Object.values(listen));
      const refusedByBalancer = nginxRefused(() => nginx.errorLog());
      const front: Front = tls
        ? { wsBase: `wss://127.0.0.1:${ports.tls}`, apiBase: `https://127.0.0.1:${ports.tls}`, ca, refusedByBalancer }
        : { wsBase: `ws://127.0.0.1:${ports.ws}`, apiBase: `http://127.0.0.1:${ports.api}`, refusedByBalancer };
      return { front, stop: () => nginx.stop() };
    };

    describe(`deploy/nginx/${file}`, () => {
      describe('as shipped', () => {
        let s: Awaited<ReturnType<typeof start>>;
        beforeAll(async () => {
          s = await start([]);
        });
        afterAll(() => s?.stop());
        shippedChecks(
          file,
          () => s.front,
          () => app,
          () => sdk,
        );
        if (!tls) {
          it('nginx.conf: the browser client is on the API port only, not on the WebSocket port', async () => {
            expect((await get(`${s.front.wsBase.replace('ws:', 'http:')}/push.js`)).status).toBe(404);
          });
        }
      });
      limitChecks(
        `${file} with test-sized limits`,
        () => start(small),
        () => app,
      );
    });
  }

  // ---------------------------------------------------------------------------------- HAProxy
  describe('deploy/haproxy/haproxy.cfg (its TLS frontend uncommented)', () => {
    const refusedByBalancer = (r: { body: string }) => expect(r.body).toMatch(/<h1>429 Too Many Requests<\/h1>/);
    const start = async (edits: Edit[]) => {
      const dir = subdir('haproxy');
      const sock = join(dir, 'stats.sock');
      const listen = { ws: await freePort(), api: await freePort(), tls: await freePort() };
      const conf = runnableHaproxyConfig({ listen, gateways: [gw], tls: { pem: cert.pem }, statsSocket: sock, edits });
      const haproxy = await startHaproxy(conf, dir, [listen.ws, listen.api, listen.tls]);
      // Ready once its own health check (GET /ready on the API port) has passed for the gateway
      // in both backends.
      await waitHaproxyServersUp(sock);
      expect((await haproxyServers(sock)).map((r) => `${r.proxy}/${r.server}`).sort()).toEqual(['herald_api/gw0', 'herald_ws/gw0']);
      return {
        plain: { wsBase: `ws://127.0.0.1:${listen.ws}`, apiBase: `http://127.0.0.1:${listen.api}`, refusedByBalancer } satisfies Front,
        secure: { wsBase: `wss://127.0.0.1:${listen.tls}`, apiBase: `https://127.0.0.1:${listen.tls}`, ca, refusedByBalancer } satisfies Front,
        stop: () => haproxy.stop(),
      };
    };

    describe('as shipped', () => {
      let s: Awaited<ReturnType<typeof start>>;
      beforeAll(async () => {
        s = await start([]);
      });
      afterAll(() => s?.stop());
      shippedChecks(
        'haproxy :3131/:3232',
        () => s.plain,
        () => app,
        () => sdk,
      );
      shippedChecks(
        'haproxy :443',
        () => s.secure,
        () => app,
        () => sdk,
      );
    });

    // The two frontends of :3131 and :3232, and the TLS frontend (one table for both limits).
    const small: Edit[] = [
      { from: '{ sc0_conn_cur gt 200 }', to: '{ sc0_conn_cur gt 2 }', times: 2 },
      { from: '{ sc0_http_req_rate gt 5000 }', to: '{ sc0_http_req_rate gt 3 }', times: 2 },
    ];
    for (const which of ['plain', 'secure'] as const) {
      limitChecks(
        `haproxy ${which === 'plain' ? ':3131/:3232' : ':443'} with test-sized limits`,
        async () => {
          const s = await start(small);
          return { front: s[which], stop: s.stop };
        },
        () => app,
      );
    }
  });
});
