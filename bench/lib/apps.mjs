// Apps in the store for the `apps` scenario: seeding the Redis store with many tenants before a
// gateway starts, the admin API, and a signed probe that says whether a node applied a change.
import { createHash } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './servers.mjs';
import { redisCmd, sleep } from './util.mjs';

const { validateAppDocument } = await import(pathToFileURL(path.join(ROOT, 'packages/config/dist/index.js')).href);
const { signApiRequest } = await import(pathToFileURL(path.join(ROOT, 'packages/protocol/dist/index.js')).href);

/** Fields written per HSET: a few hundred KB per command, far below Redis's limits. */
const CHUNK = 500;

/**
 * Tenant `i` of a seeded store. Credentials are derived from `i`, so any tenant can be probed later
 * without keeping 10,000 secrets; each has a webhook and a limit, so reading the store validates
 * documents of a realistic shape rather than minimal ones.
 */
export function tenant(i, tag = 't') {
  const secret = createHash('sha256').update(`herald-bench-${tag}-${i}`).digest('hex').slice(0, 32);
  return {
    id: `bench-${tag}-${i}`,
    key: `bench-${tag}-key-${i}`,
    secret,
    webhooks: [{ url: `https://tenant-${i}.example.com/pusher/webhooks`, events: ['channel_occupied', 'channel_vacated'] }],
    maxConnections: 1000 + (i % 10) * 100,
  };
}

/** The document the store keeps: the admin API's rules applied (defaults filled in), or an error naming each bad field. */
function storedDocument(fields) {
  const check = validateAppDocument(fields);
  if (!check.ok) throw new Error(`bench app ${fields.id} is invalid: ${check.issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`);
  return check.doc;
}

/**
 * Writes `apps` into the Redis app store of `prefix` as packages/apps/lua/app-write.lua leaves it
 * (hashes docs, meta and keys under the `{apps}` hash tag; meta "version|createdAt|updatedAt"),
 * without the audit list or a notification: nothing is listening yet, and 10,000 scripted writes
 * would only add time. Resolves once every field is written.
 */
export async function seedRedisStore(port, prefix, apps) {
  const base = `${prefix}:{apps}`;
  const now = new Date().toISOString();
  for (let i = 0; i < apps.length; i += CHUNK) {
    const docs = [];
    const meta = [];
    const keys = [];
    for (const fields of apps.slice(i, i + CHUNK)) {
      const doc = storedDocument(fields);
      docs.push(doc.id, JSON.stringify(doc));
      meta.push(doc.id, `1|${now}|${now}`);
      keys.push(doc.key, doc.id);
    }
    await redisCmd(port, 'HSET', `${base}:docs`, ...docs);
    await redisCmd(port, 'HSET', `${base}:meta`, ...meta);
    await redisCmd(port, 'HSET', `${base}:keys`, ...keys);
  }
  const n = Number(await redisCmd(port, 'HLEN', `${base}:docs`));
  if (n !== apps.length) throw new Error(`seeded ${n} apps under ${base}, expected ${apps.length}`);
}

/** One HTTP request on a kept-alive agent: { status, body, atMs } (atMs: performance.now() when the answer ended). */
function request(agent, url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method,
        agent,
        headers: body === undefined ? headers : { ...headers, 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode, body: text, atMs: performance.now() }));
      },
    );
    req.setTimeout(10000, () => req.destroy(new Error(`${method} ${u.pathname} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The admin API of one gateway (docs/reference/admin-api.md), on one kept-alive connection. */
export function adminClient(apiBase, token) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const call = async (method, route, body) => {
    const r = await request(agent, `${apiBase}/admin/v1${route}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (r.status >= 300) throw new Error(`admin ${method} ${route}: ${r.status} ${r.body.slice(0, 300)}`);
    return r;
  };
  return {
    create: (fields) => call('POST', '/apps', fields),
    patch: (id, fields) => call('PATCH', `/apps/${id}`, fields),
    rotate: (id, secret) => call('POST', `/apps/${id}/rotate-secret`, { secret, graceSeconds: 0 }),
    remove: (id) => call('DELETE', `/apps/${id}`),
    close: () => agent.destroy(),
  };
}

/**
 * A signed trigger of `app` (to a channel nobody holds) on one gateway, on a kept-alive connection:
 * resolves with its HTTP status and when the answer arrived. 200 while the node knows the app, its
 * secret and that it is enabled; 400 for an unknown key, 401 for another secret, 403 disabled.
 */
export function prober(apiBase) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return {
    async probe(app) {
      const apiPath = `/apps/${app.id}/events`;
      const body = JSON.stringify({ name: 'probe', channels: ['bench-probe'], data: '{}' });
      const qs = signApiRequest({ key: app.key, secret: app.secret, method: 'POST', path: apiPath, body });
      return request(agent, `${apiBase}${apiPath}?${qs}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    },
    close: () => agent.destroy(),
  };
}

/**
 * The longest answer (ms) of GET /health asked every `everyMs` for `durationMs`: how long the
 * node's event loop was held at most (a request that comes during a synchronous stretch waits for
 * its end). Measured from outside, so a busy machine's scheduling shows in it too.
 */
export async function longestWait(apiBase, durationMs, everyMs = 10) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const end = performance.now() + durationMs;
  let max = 0;
  try {
    while (performance.now() < end) {
      const t = performance.now();
      await request(agent, `${apiBase}/health`);
      max = Math.max(max, performance.now() - t);
      await sleep(everyMs);
    }
  } finally {
    agent.destroy();
  }
  return max;
}
