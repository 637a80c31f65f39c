/**
 * A PostgreSQL app store that stops answering (a black-holed link: nothing refused, nothing
 * answered), seen from a gateway: it keeps serving the apps it has, `/ready` stays 200 until its
 * copy is older than PUSH_APPS_STALE_AFTER_MS, admin writes answer 503 and write nothing, and once
 * the link is back a change made meanwhile (whose notification was lost with the link) is applied
 * by the next resync.
 */
import { randomBytes } from 'node:crypto';
import Pusher from 'pusher';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, type NodeHandle, RawClient, startNode, startStallProxy, type StallProxy, type TestDatabase } from '@herald/test-support';

const TOKEN = randomBytes(16).toString('hex');
const STALE_AFTER_MS = 4000;

let db: TestDatabase;
let proxy: StallProxy;
let node: NodeHandle;
const clients: RawClient[] = [];

const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${node.apiUrl}/admin/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
const ready = async () => (await fetch(`${node.apiUrl}/ready`)).status;
async function connects(key: string): Promise<'established' | number> {
  const c = await RawClient.connect(`ws://127.0.0.1:${node.wsPort}/app/${key}?protocol=7&client=js&version=8.6.0`);
  clients.push(c);
  return Promise.race([c.waitFor((f) => f.event === 'pusher:connection_established').then(() => 'established' as const), c.closed]);
}

beforeAll(async () => {
  db = await createPostgresDatabase();
  proxy = await startStallProxy({ port: 5432 });
  const url = new URL(db.url);
  url.port = String(proxy.port);
  node = await startNode({
    app: null,
    env: {
      PUSH_APPS_STORE: url.href,
      PUSH_ADMIN_TOKEN: TOKEN,
      PUSH_APPS_RESYNC_MS: '1000',
      PUSH_APPS_STALE_AFTER_MS: String(STALE_AFTER_MS),
      PUSH_CREDENTIALS_FILE: `/tmp/herald-outage-${randomBytes(4).toString('hex')}/credentials.json`,
    },
  });
}, 60_000);

afterAll(async () => {
  // A gateway that stopped answering says why in its output.
  if (node !== undefined && node.proc.exitCode !== null) console.log(`gateway exited with ${node.proc.exitCode}:\n${node.output()}`);
  for (const c of clients) c.close();
  await node?.kill();
  await proxy?.close();
  await db?.drop();
});

describe('an app store that stops answering', () => {
  it('leaves the gateway serving its apps, refuses admin writes with 503, and heals when it answers again', async () => {
    const created = await admin('POST', '/apps', {});
    expect(created.status).toBe(201);
    const app = (await created.json()) as { id: string; key: string; secret: string };
    expect(await connects(app.key)).toBe('established');

    proxy.stall();
    const stalledAt = Date.now();
    // Sockets and signed REST calls of the known app go on as before.
    expect(await connects(app.key)).toBe('established');
    const sdk = new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(node.apiPort), useTLS: false });
    expect((await sdk.trigger('c', 'e', {})).status).toBe(200);
    // A write cannot reach the store: 503, and nothing was created.
    const write = await admin('POST', '/apps', { id: 'during-outage' });
    expect(write.status).toBe(503);
    expect(await write.json()).toMatchObject({ error_code: 'PUSH_ERR_STORE_UNAVAILABLE' });
    // Meanwhile another node disables the app; its notification is lost with the link.
    await db.query(`UPDATE herald_apps SET doc = jsonb_set(doc, '{enabled}', 'false'), version = version + 1 WHERE id = $1`, [app.id]);
    await db.query(`NOTIFY herald_apps, '${app.id}'`);
    // /ready holds 200 while the copy is young, then 503 once it is older than the bound.
    await expect.poll(ready, { timeout: STALE_AFTER_MS + 20_000, interval: 200 }).toBe(503);
    expect(Date.now() - stalledAt).toBeGreaterThanOrEqual(STALE_AFTER_MS);
    expect(await connects(app.key)).toBe('established');

    proxy.resume();
    proxy.drop();
    await expect.poll(ready, { timeout: 30_000, interval: 200 }).toBe(200);
    await expect.poll(() => connects(app.key), { timeout: 30_000 }).toBe(4003);
    expect((await admin('GET', '/apps/during-outage')).status).toBe(404);
  });
});
