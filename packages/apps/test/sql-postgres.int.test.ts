import { createPostgresStore } from '@herald/apps';
import { createPostgresDatabase } from '@herald/test-support';
import { describeSqlStore } from './support/sql-store-cases.js';

describeSqlStore({
  name: 'PostgreSQL',
  handEditBlock: 'hand-edit-postgres',
  createDatabase: createPostgresDatabase,
  createStore: (url, opts) => createPostgresStore(url, opts),
  unreachableUrl: (port) => `postgres://postgres@127.0.0.1:${port}/herald`,
  async insertRow(db, id, key, doc) {
    await db.query('INSERT INTO herald_apps (id, key, doc, version) VALUES ($1, $2, $3, 1)', [id, key, JSON.stringify(doc)]);
  },
  async createLogin(db, user) {
    // A superuser: the test is about connections, not rights; trust authentication lets it in.
    await db.query(`CREATE ROLE ${user} LOGIN SUPERUSER`);
  },
  async cutLogin(db, user) {
    await db.query(`ALTER ROLE ${user} NOLOGIN`);
    await db.query('SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = $1', [user]);
  },
  async connectionsOf(db, user) {
    const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1', [user]);
    return row?.n ?? 0;
  },
  async restoreLogin(db, user) {
    await db.query(`ALTER ROLE ${user} LOGIN`);
  },
  async dropLogin(db, user) {
    await db.query('SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = $1', [user]);
    await db.query(`DROP ROLE IF EXISTS ${user}`);
  },
});
