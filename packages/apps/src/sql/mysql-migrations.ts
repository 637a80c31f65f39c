import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import { MIGRATIONS_TABLE, type Migration, type MigrationSession } from './migrations.js';

/** Seconds a starting node waits for another node's migration before giving up. */
const LOCK_WAIT_SECONDS = 60;

/**
 * GET_LOCK names are server-wide and at most 64 characters: the database's name goes in hashed,
 * so Herald stores in other databases of one server never wait on each other.
 */
const LOCK_NAME = "CONCAT('herald_migrate:', SHA1(DATABASE()))";

/*
 * id is ASCII with a binary collation (app ids are [A-Za-z0-9_.-]) and key is VARBINARY: MySQL's
 * default collations compare case-insensitively and ignore trailing spaces, which would make
 * `Key` and `key ` collide with `key`. Times are DATETIME(3) written as UTC_TIMESTAMP(3).
 */
export const MYSQL_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'apps, audit and change counter',
    statements: [
      `CREATE TABLE IF NOT EXISTS herald_apps (
        id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        \`key\` VARBINARY(1020) NOT NULL,
        doc JSON NOT NULL,
        version INT NOT NULL,
        created_at DATETIME(3) NOT NULL,
        updated_at DATETIME(3) NOT NULL,
        PRIMARY KEY (id),
        UNIQUE KEY herald_apps_key (\`key\`)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS herald_apps_audit (
        seq BIGINT NOT NULL AUTO_INCREMENT,
        at DATETIME(3) NOT NULL,
        action VARCHAR(32) CHARACTER SET ascii NOT NULL,
        app_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        actor TEXT NOT NULL,
        changes JSON NOT NULL,
        version INT NOT NULL,
        PRIMARY KEY (seq)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      // One row, bumped by every write in the write's transaction: pollers compare it.
      `CREATE TABLE IF NOT EXISTS herald_apps_changes (
        id TINYINT NOT NULL,
        counter BIGINT NOT NULL,
        PRIMARY KEY (id)
      ) ENGINE=InnoDB`,
      'INSERT IGNORE INTO herald_apps_changes (id, counter) VALUES (1, 0)',
    ],
  },
];

/** Migrations over one connection: GET_LOCK belongs to its session. */
export function mysqlMigrationSession(conn: PoolConnection): MigrationSession {
  return {
    async withLock(fn) {
      const [rows] = await conn.query<({ locked: number | null } & RowDataPacket)[]>(`SELECT GET_LOCK(${LOCK_NAME}, ${LOCK_WAIT_SECONDS}) AS locked`);
      if (rows[0]?.locked !== 1) throw new Error(`another node held the migration lock for ${LOCK_WAIT_SECONDS} s`);
      try {
        return await fn();
      } finally {
        await conn.query(`SELECT RELEASE_LOCK(${LOCK_NAME})`);
      }
    },
    async ensureTable() {
      await conn.query(
        `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (version INT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, applied_at DATETIME(3) NOT NULL) ENGINE=InnoDB`,
      );
    },
    async applied() {
      const [rows] = await conn.query<({ version: number } & RowDataPacket)[]>(`SELECT version FROM ${MIGRATIONS_TABLE}`);
      return new Set(rows.map((r) => Number(r.version)));
    },
    async apply(m) {
      // MySQL commits DDL implicitly, so a migration cannot be one transaction: its statements are
      // written to be run again (IF NOT EXISTS, INSERT IGNORE) should a node die half-way, and the
      // version is recorded last.
      for (const s of m.statements) await conn.query(s);
      await conn.query(`INSERT INTO ${MIGRATIONS_TABLE} (version, name, applied_at) VALUES (?, ?, UTC_TIMESTAMP(3))`, [m.version, m.name]);
    },
  };
}
