import type pg from 'pg';
import { MIGRATIONS_TABLE, type Migration, type MigrationSession } from './migrations.js';

/**
 * The two keys of the session-level advisory lock held while migrating ("HRLD", 1). Advisory
 * locks are per database, so Herald stores in other databases of one server never wait on it.
 */
const LOCK_KEYS = [0x48524c44, 1] as const;

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'apps and audit',
    statements: [
      `CREATE TABLE herald_apps (
        id varchar(64) NOT NULL,
        key varchar(255) NOT NULL,
        doc jsonb NOT NULL,
        version integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT herald_apps_pkey PRIMARY KEY (id),
        CONSTRAINT herald_apps_key_key UNIQUE (key)
      )`,
      `CREATE TABLE herald_apps_audit (
        seq bigserial NOT NULL,
        at timestamptz NOT NULL DEFAULT now(),
        action varchar(32) NOT NULL,
        app_id varchar(64) NOT NULL,
        actor text NOT NULL,
        changes jsonb NOT NULL,
        version integer NOT NULL,
        CONSTRAINT herald_apps_audit_pkey PRIMARY KEY (seq)
      )`,
    ],
  },
];

/** The constraint names a unique violation reports, and the field each one guards. */
export const POSTGRES_UNIQUE_FIELDS: Readonly<Record<string, 'id' | 'key'>> = { herald_apps_pkey: 'id', herald_apps_key_key: 'key' };

/** Migrations over one client: the advisory lock is held by its session. */
export function postgresMigrationSession(client: pg.ClientBase): MigrationSession {
  return {
    async withLock(fn) {
      await client.query('SELECT pg_advisory_lock($1, $2)', [...LOCK_KEYS]);
      try {
        return await fn();
      } finally {
        await client.query('SELECT pg_advisory_unlock($1, $2)', [...LOCK_KEYS]);
      }
    },
    async ensureTable() {
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
    },
    async applied() {
      const r = await client.query<{ version: number }>(`SELECT version FROM ${MIGRATIONS_TABLE}`);
      return new Set(r.rows.map((row) => row.version));
    },
    async apply(m) {
      // PostgreSQL's DDL is transactional: a migration that fails half-way leaves nothing behind.
      await client.query('BEGIN');
      try {
        for (const s of m.statements) await client.query(s);
        await client.query(`INSERT INTO ${MIGRATIONS_TABLE} (version, name) VALUES ($1, $2)`, [m.version, m.name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {
          /* the connection is gone: the server rolled the transaction back itself */
        });
        throw err;
      }
    },
  };
}
