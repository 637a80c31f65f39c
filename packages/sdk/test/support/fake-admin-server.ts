import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for the gateway's admin API, answering as docs/reference/admin-api.md says: bearer
 * token, apps with versions and ETags, If-Match, `{"error","code","error_code"}` bodies with
 * `fields` on a validation refusal, 204 on a deletion, an audit log. It checks far fewer field
 * rules than the real one (those are the server's), enough for the client and the CLI to meet
 * every kind of answer. Every request is recorded for the tests to read.
 */

interface RecordedRequest {
  method: string;
  /** Path and query as sent. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

type Doc = Record<string, unknown>;
interface Stored {
  doc: Doc;
  version: number;
  createdAt: string;
  updatedAt: string;
  source: 'store' | 'environment';
  previousSecrets: { expiresAt: string }[];
}

export interface FakeAdminServer extends AsyncDisposable {
  url: string;
  port: number;
  token: string;
  requests: RecordedRequest[];
  /** TCP connections accepted so far (keep-alive reuses one). */
  connections(): number;
  /** When set, answers every request instead of the fake API (a proxy's error page, a wrong body). */
  override: ((req: RecordedRequest) => { status: number; body: string } | undefined) | undefined;
  /** Adds an app as if it were in the store; `source: 'environment'` makes it the unchangeable default app. */
  seed(doc: Doc, source?: 'store' | 'environment'): void;
}

const BOOLEANS = ['enabled', 'clientEvents', 'subscriptionCountEvents'];
const COUNTS = ['cacheTtlSeconds', 'maxConnections', 'maxClientEventsPerSecond', 'maxApiRequestsPerSecond', 'maxPresenceMembers', 'maxEventPayloadBytes'];
const KNOWN = new Set(['id', 'key', 'secret', 'webhooks', 'allowedOrigins', ...BOOLEANS, ...COUNTS]);
const DEFAULTS: Doc = { enabled: true, webhooks: [], clientEvents: true, subscriptionCountEvents: false, cacheTtlSeconds: 1800 };

/** The few rules the fake checks, each bad field named as the real API names it. */
function issues(doc: Doc): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = [];
  for (const [k, v] of Object.entries(doc)) {
    if (!KNOWN.has(k)) out.push({ field: k, message: `unknown field: ${k}` });
    else if (BOOLEANS.includes(k) && typeof v !== 'boolean') out.push({ field: k, message: 'Expected boolean' });
    else if (COUNTS.includes(k) && v !== null && !(Number.isInteger(v) && (v as number) >= 0))
      out.push({ field: k, message: 'Expected a whole number of at least 0' });
    else if (k === 'secret' && (typeof v !== 'string' || v.length < 16)) out.push({ field: k, message: 'the secret is shorter than 16 characters' });
    else if (k === 'webhooks') {
      if (!Array.isArray(v)) out.push({ field: k, message: 'Expected array' });
      else
        v.forEach(
          (w: { url?: unknown }, i) =>
            !/^https?:\/\//.test(String(w?.url)) && out.push({ field: `webhooks.${i}.url`, message: 'must be an http:// or https:// URL' }),
        );
    }
  }
  return out;
}

export async function startFakeAdminServer(token = randomBytes(16).toString('hex')): Promise<FakeAdminServer> {
  const apps = new Map<string, Stored>();
  const audit: { seq: number; at: string; action: string; appId: string; actor: string; changes: Doc; version: number }[] = [];
  const requests: RecordedRequest[] = [];
  let connections = 0;
  const now = () => new Date().toISOString();

  const view = (s: Stored, withSecret: boolean) => {
    const { secret, ...rest } = s.doc;
    return {
      ...rest,
      ...(withSecret ? { secret } : {}),
      ...(s.previousSecrets.length > 0 ? { previousSecrets: s.previousSecrets } : {}),
      version: s.version,
      createdAt: s.createdAt,
      updatedAt: s.updatedAt,
      source: s.source,
    };
  };
  const record = (action: string, appId: string, changes: Doc, version: number) =>
    audit.push({
      seq: audit.length + 1,
      at: now(),
      action,
      appId,
      actor: '127.0.0.1',
      changes: 'secret' in changes ? { ...changes, secret: '(changed)' } : changes,
      version,
    });

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() };
      requests.push(r);
      const forced = handle.override?.(r);
      if (forced) return void res.writeHead(forced.status, { 'content-type': 'text/plain' }).end(forced.body);
      answer(r, res);
    });
  });
  server.on('connection', () => connections++);

  const send = (res: ServerResponse, status: number, body?: unknown, etag?: number) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (etag !== undefined) headers.etag = `"${etag}"`;
    res.writeHead(status, headers).end(body === undefined ? undefined : JSON.stringify(body));
  };
  const fail = (res: ServerResponse, status: number, errorCode: string, error: string, fields?: { field: string; message: string }[]) =>
    send(res, status, { error, code: status, error_code: errorCode, ...(fields ? { fields } : {}) });

  function answer(r: RecordedRequest, res: ServerResponse): void {
    if (r.headers.authorization !== `Bearer ${token}`) return fail(res, 401, 'PUSH_ERR_ADMIN_UNAUTHORIZED', 'Unauthorized');
    const url = new URL(r.url, 'http://fake');
    const m = /^\/admin\/v1\/(?:apps(?:\/([^/]+)(\/rotate-secret)?)?|(audit))$/.exec(url.pathname);
    if (!m) return fail(res, 404, 'PUSH_ERR_NOT_FOUND', 'Not found');
    const [, rawId, rotate, auditRoute] = m;
    if (auditRoute) {
      const limit = Number(url.searchParams.get('limit') ?? 100);
      const before = url.searchParams.has('before') ? Number(url.searchParams.get('before')) : Infinity;
      return send(res, 200, {
        entries: audit
          .filter((e) => e.seq < before)
          .reverse()
          .slice(0, limit),
      });
    }
    let body: Doc = {};
    if (r.body !== '') {
      try {
        body = JSON.parse(r.body) as Doc;
      } catch {
        return fail(res, 400, 'PUSH_ERR_INVALID_JSON', 'Invalid JSON');
      }
    }
    if (rawId === undefined) {
      if (r.method === 'GET') return send(res, 200, { apps: [...apps.values()].map((s) => view(s, false)), store: { kind: 'memory', readOnly: false } });
      const bad = issues(body);
      if (bad.length > 0) return fail(res, 400, 'PUSH_ERR_INVALID_APP', 'Invalid app', bad);
      const doc: Doc = {
        id: String(1_000_000 + apps.size),
        key: randomBytes(10).toString('hex'),
        secret: randomBytes(16).toString('hex'),
        ...DEFAULTS,
        ...body,
      };
      const id = String(doc.id);
      if (apps.has(id) || [...apps.values()].some((s) => s.doc.key === doc.key))
        return fail(res, 409, 'PUSH_ERR_APP_EXISTS', 'An app with that id or key exists');
      const at = now();
      const stored: Stored = { doc, version: 1, createdAt: at, updatedAt: at, source: 'store', previousSecrets: [] };
      apps.set(id, stored);
      record('create', id, doc, 1);
      return send(res, 201, view(stored, true), 1);
    }
    const id = decodeURIComponent(rawId);
    const stored = apps.get(id);
    if (!stored) return fail(res, 404, 'PUSH_ERR_APP_NOT_FOUND', `No app with id ${id}`);
    if (r.method === 'GET' && !rotate) return send(res, 200, view(stored, true), stored.version);
    if (stored.source === 'environment')
      return fail(res, 405, 'PUSH_ERR_STORE_READ_ONLY', 'This app is defined by the environment (PUSH_APP_*) and cannot be changed here');
    const ifMatch = r.headers['if-match'];
    if (ifMatch !== undefined && ifMatch !== `"${stored.version}"`) {
      return fail(res, 409, 'PUSH_ERR_APP_VERSION_CONFLICT', `App ${id} is at version ${stored.version}`);
    }
    const changed = (changes: Doc, action: string) => {
      stored.version++;
      stored.updatedAt = now();
      record(action, id, changes, stored.version);
      send(res, 200, view(stored, true), stored.version);
    };
    if (rotate) {
      const grace = typeof body.graceSeconds === 'number' ? body.graceSeconds : 3600;
      stored.previousSecrets.push({ expiresAt: new Date(Date.now() + grace * 1000).toISOString() });
      stored.doc.secret = typeof body.secret === 'string' ? body.secret : randomBytes(16).toString('hex');
      return changed({ secret: stored.doc.secret }, 'rotate-secret');
    }
    if (r.method === 'DELETE') {
      apps.delete(id);
      record('delete', id, {}, stored.version);
      return send(res, 204);
    }
    const fixed = ['id', 'key', 'secret'].filter((k) => k in body).map((field) => ({ field, message: 'cannot be changed' }));
    const bad = [...fixed, ...issues(body)];
    if (bad.length > 0) return fail(res, 400, 'PUSH_ERR_INVALID_APP', 'Invalid app', bad);
    for (const [k, v] of Object.entries(body)) {
      if (v === null) delete stored.doc[k];
      else stored.doc[k] = v;
    }
    changed(body, 'update');
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const handle: FakeAdminServer = {
    url: `http://127.0.0.1:${port}`,
    port,
    token,
    requests,
    connections: () => connections,
    override: undefined,
    seed(doc, source = 'store') {
      const at = now();
      apps.set(String(doc.id), { doc: { ...DEFAULTS, ...doc }, version: 1, createdAt: at, updatedAt: at, source, previousSecrets: [] });
    },
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return handle;
}
