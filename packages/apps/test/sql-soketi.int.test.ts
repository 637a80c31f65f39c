import { describe, expect, it } from 'vitest';
import {
  createMysqlStore,
  createPostgresStore,
  createSoketiSqlStore,
  ReadOnlyStoreError,
  StoreUnavailableError,
  type AppStore,
  type SqlStoreOptions,
} from '@herald/apps';
import { appFromDocument, type FieldIssue } from '@herald/config';
import { freePort } from '@herald/test-support';
import { appDocument, auditInput } from './support/app-documents.js';
import { documentedSql, runScript } from './support/doc-blocks.js';
import { createMysqlDatabase, createPostgresDatabase, type TestDatabase } from '@herald/test-support';

/*
 * soketi's apps table as its documentation (docs.soketi.app, "App Management", SQL drivers)
 * defines it, column for column and type for type, for each database. Herald must read it as it
 * is: no column added, none assumed beyond these.
 */
const POSTGRES_SOKETI_TABLE = `
  CREATE TABLE apps (
    id varchar(255) PRIMARY KEY,
    "key" varchar(255) NOT NULL,
    secret varchar(255) NOT NULL,
    max_connections integer NOT NULL,
    enable_client_messages smallint NOT NULL,
    "enabled" smallint NOT NULL,
    max_backend_events_per_sec integer NOT NULL,
    max_client_events_per_sec integer NOT NULL,
    max_read_req_per_sec integer NOT NULL,
    max_presence_members_per_channel integer DEFAULT NULL,
    max_presence_member_size_in_kb integer DEFAULT NULL,
    max_channel_name_length integer DEFAULT NULL,
    max_event_channels_at_once integer DEFAULT NULL,
    max_event_name_length integer DEFAULT NULL,
    max_event_payload_in_kb integer DEFAULT NULL,
    max_event_batch_size integer DEFAULT NULL,
    webhooks json,
    enable_user_authentication smallint NOT NULL
  )`;

// soketi documents tinyint(1) for the limit columns on MySQL, so they hold at most 127.
const MYSQL_SOKETI_TABLE = `
  CREATE TABLE apps (
    \`id\` varchar(255) NOT NULL,
    \`key\` varchar(255) NOT NULL,
    \`secret\` varchar(255) NOT NULL,
    \`max_connections\` integer(10) NOT NULL,
    \`enable_client_messages\` tinyint(1) NOT NULL,
    \`enabled\` tinyint(1) NOT NULL,
    \`max_backend_events_per_sec\` integer(10) NOT NULL,
    \`max_client_events_per_sec\` integer(10) NOT NULL,
    \`max_read_req_per_sec\` integer(10) NOT NULL,
    \`webhooks\` json,
    \`max_presence_members_per_channel\` tinyint(1) NULL,
    \`max_presence_member_size_in_kb\` tinyint(1) NULL,
    \`max_channel_name_length\` tinyint(1) NULL,
    \`max_event_channels_at_once\` tinyint(1) NULL,
    \`max_event_name_length\` tinyint(1) NULL,
    \`max_event_payload_in_kb\` tinyint(1) NULL,
    \`max_event_batch_size\` tinyint(1) NULL,
    \`enable_user_authentication\` tinyint(1) NOT NULL,
    PRIMARY KEY (\`id\`)
  )`;

const SECRETS = { full: '9c1f0e2d3b4a59687766554433221100', unlimited: '00112233445566778899aabbccddeeff', half: 'a1b2c3d4e5f60718293a4b5c6d7e8f90' };

const LIMITS_UNSET = {
  max_presence_members_per_channel: null,
  max_presence_member_size_in_kb: null,
  max_channel_name_length: null,
  max_event_channels_at_once: null,
  max_event_name_length: null,
  max_event_payload_in_kb: null,
  max_event_batch_size: null,
};

/** Rows as soketi's users write them: every limit set, every limit unlimited, a mix, and two Herald cannot serve. */
const ROWS: Record<string, unknown>[] = [
  {
    id: 'app-full',
    key: 'key-full',
    secret: SECRETS.full,
    max_connections: 500,
    enable_client_messages: 1,
    enabled: 1,
    max_backend_events_per_sec: 50,
    max_client_events_per_sec: 30,
    max_read_req_per_sec: 20,
    max_presence_members_per_channel: 60,
    max_presence_member_size_in_kb: 2,
    max_channel_name_length: 100,
    max_event_channels_at_once: 20,
    max_event_name_length: 90,
    max_event_payload_in_kb: 16,
    max_event_batch_size: 5,
    webhooks: JSON.stringify([
      {
        url: 'https://hooks.example.com/soketi',
        event_types: ['channel_occupied', 'member_added'],
        filter: { channel_name_starts_with: 'beta-', channel_name_ends_with: '-app' },
        headers: { 'X-Token': 'abc' },
      },
      { url: 'http://127.0.0.1:9/all' },
    ]),
    enable_user_authentication: 1,
  },
  {
    id: 'app-unlimited',
    key: 'key-unlimited',
    secret: SECRETS.unlimited,
    max_connections: -1,
    enable_client_messages: 0,
    enabled: 0,
    max_backend_events_per_sec: -1,
    max_client_events_per_sec: -1,
    max_read_req_per_sec: -1,
    ...LIMITS_UNSET,
    webhooks: null,
    enable_user_authentication: 0,
  },
  {
    id: 'app-half',
    key: 'key-half',
    secret: SECRETS.half,
    max_connections: 0,
    enable_client_messages: 1,
    enabled: 1,
    max_backend_events_per_sec: 100,
    max_client_events_per_sec: 5,
    max_read_req_per_sec: -1,
    ...LIMITS_UNSET,
    max_event_batch_size: -1,
    max_event_name_length: 64,
    webhooks: '[]',
    enable_user_authentication: 0,
  },
  {
    id: 'app-weak',
    key: 'key-weak',
    secret: 'app-secret',
    max_connections: -1,
    enable_client_messages: 0,
    enabled: 1,
    max_backend_events_per_sec: -1,
    max_client_events_per_sec: -1,
    max_read_req_per_sec: -1,
    ...LIMITS_UNSET,
    webhooks: '[]',
    enable_user_authentication: 0,
  },
  {
    id: 'app-lambda',
    key: 'key-lambda',
    secret: 'f0e1d2c3b4a5968778695a4b3c2d1e0f',
    max_connections: -1,
    enable_client_messages: 0,
    enabled: 1,
    max_backend_events_per_sec: -1,
    max_client_events_per_sec: -1,
    max_read_req_per_sec: -1,
    ...LIMITS_UNSET,
    webhooks: JSON.stringify([{ lambda_function: 'notify', event_types: ['client_event'] }]),
    enable_user_authentication: 0,
  },
];

/** What each servable row must become, field for field (Herald's defaults written out). */
const EXPECTED = [
  {
    id: 'app-full',
    key: 'key-full',
    secret: SECRETS.full,
    enabled: true,
    clientEvents: true,
    subscriptionCountEvents: false,
    cacheTtlSeconds: 1800,
    webhooks: [
      { url: 'https://hooks.example.com/soketi', events: ['channel_occupied', 'member_added'], channel_prefix: 'beta-', headers: { 'X-Token': 'abc' } },
      { url: 'http://127.0.0.1:9/all' },
    ],
    maxConnections: 500,
    maxApiRequestsPerSecond: 70,
    maxClientEventsPerSecond: 30,
    maxPresenceMembers: 60,
    maxPresenceUserInfoBytes: 2048,
    maxChannelNameLength: 100,
    maxChannelsPerTrigger: 20,
    maxEventNameLength: 90,
    maxEventPayloadBytes: 16_384,
    maxBatchSize: 5,
  },
  {
    id: 'app-half',
    key: 'key-half',
    secret: SECRETS.half,
    enabled: true,
    clientEvents: true,
    subscriptionCountEvents: false,
    cacheTtlSeconds: 1800,
    webhooks: [],
    maxClientEventsPerSecond: 5,
    maxEventNameLength: 64,
  },
  {
    id: 'app-unlimited',
    key: 'key-unlimited',
    secret: SECRETS.unlimited,
    enabled: false,
    clientEvents: false,
    subscriptionCountEvents: false,
    cacheTtlSeconds: 1800,
    webhooks: [],
  },
];

const INVALID = [
  ['app-lambda', 'webhooks.0.url'],
  ['app-weak', 'secret'],
];

interface Dialect {
  name: string;
  kind: string;
  copyBlock: string;
  createDatabase: () => Promise<TestDatabase>;
  createTable: string;
  quote: (column: string) => string;
  placeholder: (n: number) => string;
  createStore: (url: string, opts?: SqlStoreOptions) => Promise<AppStore>;
  tables: (db: TestDatabase) => Promise<string[]>;
  unreachableUrl: (port: number) => string;
}

const DIALECTS: Dialect[] = [
  {
    name: 'PostgreSQL',
    kind: 'postgres',
    copyBlock: 'soketi-copy-postgres',
    createDatabase: createPostgresDatabase,
    createTable: POSTGRES_SOKETI_TABLE,
    quote: (c) => `"${c}"`,
    placeholder: (n) => `$${n}`,
    createStore: (url, opts) => createPostgresStore(url, opts),
    tables: async (db) =>
      (await db.query<{ t: string }>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")).map((r) => r.t),
    unreachableUrl: (port) => `postgres://postgres@127.0.0.1:${port}/soketi`,
  },
  {
    name: 'MySQL/MariaDB',
    kind: 'mysql',
    copyBlock: 'soketi-copy-mysql',
    createDatabase: createMysqlDatabase,
    createTable: MYSQL_SOKETI_TABLE,
    quote: (c) => `\`${c}\``,
    placeholder: () => '?',
    createStore: (url, opts) => createMysqlStore(url, opts),
    tables: async (db) =>
      (await db.query<{ t: string }>('SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1')).map((r) => r.t),
    unreachableUrl: (port) => `mysql://root@127.0.0.1:${port}/soketi`,
  },
];

async function insertRow(db: TestDatabase, d: Dialect, row: Record<string, unknown>): Promise<void> {
  const columns = Object.keys(row);
  await db.query(
    `INSERT INTO apps (${columns.map(d.quote).join(', ')}) VALUES (${columns.map((_, i) => d.placeholder(i + 1)).join(', ')})`,
    columns.map((c) => row[c]),
  );
}

/** A database of its own holding soketi's table with ROWS. */
async function soketiDatabase(d: Dialect): Promise<TestDatabase> {
  const db = await d.createDatabase();
  await db.query(d.createTable);
  for (const row of ROWS) await insertRow(db, d, row);
  return db;
}

const snapshot = async (db: TestDatabase) => JSON.stringify(await db.query('SELECT * FROM apps ORDER BY id'));

for (const d of DIALECTS) {
  describe(`soketi's apps table in ${d.name}, read-only`, () => {
    it('maps every documented column of every row exactly, and reports the rows Herald cannot serve', async () => {
      await using db = await soketiDatabase(d);
      const invalid: [string, FieldIssue[]][] = [];
      const store = await createSoketiSqlStore(db.url, { table: 'apps', onInvalid: (id, issues) => invalid.push([id, issues]) });
      try {
        expect(store.kind).toBe(d.kind);
        const listed = await store.list();
        expect(listed.map((s) => s.doc)).toEqual(EXPECTED);
        expect(listed.map((s) => [s.version, s.createdAt, s.updatedAt])).toEqual(
          EXPECTED.map(() => [1, '1970-01-01T00:00:00.000Z', '1970-01-01T00:00:00.000Z']),
        );
        expect(invalid.map(([id, issues]) => [id, issues[0]?.field]).sort()).toEqual(INVALID);
        expect((await store.get('app-full'))?.doc).toEqual(EXPECTED[0]);
        expect(await store.get('app-weak')).toBeUndefined();
        expect(await store.get('app-nope')).toBeUndefined();
        // Not set in soketi: Herald's defaults, maxConnections 0 (unlimited) among them.
        const unlimited = listed.find((s) => s.doc.id === 'app-unlimited');
        expect(appFromDocument(unlimited!.doc).limits).toEqual(appFromDocument(appDocument('defaults')).limits);
      } finally {
        await store.close();
      }
    });

    it('refuses every write with ReadOnlyStoreError, and leaves the database as it was', async () => {
      await using db = await soketiDatabase(d);
      const before = await snapshot(db);
      const store = await createSoketiSqlStore(db.url, { table: 'apps' });
      try {
        expect(store.readOnly).toBe("apps are read from soketi's apps table; change them there");
        const doc = (await store.get('app-full'))!.doc;
        const refused = (p: Promise<unknown>) => expect(p).rejects.toThrow(new ReadOnlyStoreError(store.readOnly));
        await refused(store.create({ ...doc, id: 'app-new', key: 'key-new' }, auditInput('create', 'app-new')));
        await refused(store.update(doc.id, { ...doc, enabled: false }, 1, auditInput('update', doc.id)));
        await refused(store.delete(doc.id, undefined, auditInput('delete', doc.id)));
        await expect(store.create(doc, auditInput('create', doc.id))).rejects.toBeInstanceOf(ReadOnlyStoreError);
        expect(await store.audit(10)).toEqual([]);
        await store.watch(() => undefined);
      } finally {
        await store.close();
      }
      expect(await snapshot(db)).toBe(before);
      expect(await d.tables(db)).toEqual(['apps']);
    });

    it('reports rows changed, added and deleted in the table to watch()', async () => {
      await using db = await soketiDatabase(d);
      const store = await createSoketiSqlStore(db.url, { table: 'apps' });
      try {
        const reported: (string[] | undefined)[] = [];
        await store.watch((ids) => reported.push(ids));
        const latencies: number[] = [];
        const edits = [
          () => db.query("UPDATE apps SET max_connections = 7 WHERE id = 'app-full'"),
          () => insertRow(db, d, { ...ROWS[2], id: 'app-copy', key: 'key-copy' }),
          () => db.query("DELETE FROM apps WHERE id = 'app-unlimited'"),
        ];
        for (const edit of edits) {
          const before = reported.length;
          const start = performance.now();
          await edit();
          await expect.poll(() => reported.length).toBeGreaterThan(before);
          latencies.push(performance.now() - start);
        }
        // soketi's table says nothing of which row changed: every report means "read everything".
        expect(reported.every((ids) => ids === undefined)).toBe(true);
        console.log(`soketi mode, ${d.name}: a changed row reached watch() in ${latencies.map((l) => `${l.toFixed(1)} ms`).join(', ')}`);
        const ids = (await store.list()).map((s) => [s.doc.id, s.doc.maxConnections]);
        expect(ids).toEqual([
          ['app-copy', undefined],
          ['app-full', 7],
          ['app-half', undefined],
        ]);
      } finally {
        await store.close();
      }
    });

    it("copies the rows into Herald's table with the documented statement, as the same apps read-only mode serves", async () => {
      await using db = await soketiDatabase(d);
      const invalid: string[] = [];
      const herald = await d.createStore(db.url, { onInvalid: (id) => invalid.push(id) });
      const soketi = await createSoketiSqlStore(db.url, { table: 'apps' });
      try {
        const before = await snapshot(db);
        let told = 0;
        await herald.watch(() => told++);
        const copy = documentedSql(d.copyBlock);
        await runScript(db, copy);
        await expect.poll(() => told).toBeGreaterThan(0);

        const copied = await herald.list();
        expect(copied.map((s) => s.doc)).toEqual((await soketi.list()).map((s) => s.doc));
        expect(copied.map((s) => s.version)).toEqual([1, 1, 1]);
        expect([...new Set(invalid)].sort()).toEqual(INVALID.map(([id]) => id));

        // Run twice, it copies nothing more; soketi's table is untouched.
        await runScript(db, copy);
        expect(await db.query('SELECT id FROM herald_apps')).toHaveLength(ROWS.length);
        expect(await snapshot(db)).toBe(before);
      } finally {
        await Promise.all([herald.close(), soketi.close()]);
      }
    });

    it('refuses a table that is missing or a name that is not a table name, and an unreachable server', async () => {
      await using db = await d.createDatabase();
      await expect(createSoketiSqlStore(db.url, { table: 'apps' })).rejects.toThrow(/apps/);
      await expect(createSoketiSqlStore(db.url, { table: 'apps; DROP TABLE x' })).rejects.toThrow(/soketi table name/);
      await expect(createSoketiSqlStore(d.unreachableUrl(await freePort()), { table: 'apps' })).rejects.toBeInstanceOf(StoreUnavailableError);
    });
  });
}
