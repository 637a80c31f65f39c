import { createMysqlStore } from '@herald/apps';
import { createMysqlDatabase, type TestDatabase } from '@herald/test-support';
import { describeSqlStore } from './support/sql-store-cases.js';

async function killConnections(db: TestDatabase, user: string): Promise<void> {
  const rows = await db.query<{ id: number }>('SELECT id FROM information_schema.PROCESSLIST WHERE user = ?', [user]);
  for (const { id } of rows) {
    try {
      await db.query(`KILL CONNECTION ${Number(id)}`);
    } catch (err) {
      // 1094 "Unknown thread id": it ended between the list and the KILL.
      if ((err as { errno?: number }).errno !== 1094) throw err;
    }
  }
}

describeSqlStore({
  name: 'MySQL/MariaDB',
  handEditBlock: 'hand-edit-mysql',
  createDatabase: createMysqlDatabase,
  createStore: (url, opts) => createMysqlStore(url, opts),
  unreachableUrl: (port) => `mysql://root@127.0.0.1:${port}/herald`,
  async insertRow(db, id, key, doc) {
    await db.query('INSERT INTO herald_apps (id, `key`, doc, version, created_at, updated_at) VALUES (?, ?, ?, 1, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))', [
      id,
      key,
      JSON.stringify(doc),
    ]);
  },
  async createLogin(db, user) {
    await db.query(`CREATE USER '${user}'@'%'`);
    await db.query(`GRANT ALL PRIVILEGES ON \`${db.name}\`.* TO '${user}'@'%'`);
  },
  async cutLogin(db, user) {
    await db.query(`ALTER USER '${user}'@'%' ACCOUNT LOCK`);
    await killConnections(db, user);
  },
  async connectionsOf(db, user) {
    const [row] = await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE user = ?', [user]);
    return Number(row?.n ?? 0);
  },
  async restoreLogin(db, user) {
    await db.query(`ALTER USER '${user}'@'%' ACCOUNT UNLOCK`);
  },
  async dropLogin(db, user) {
    await killConnections(db, user);
    await db.query(`DROP USER IF EXISTS '${user}'@'%'`);
  },
});
