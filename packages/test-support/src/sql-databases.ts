import { randomBytes } from 'node:crypto';
import pg from 'pg';
import mysql from 'mysql2/promise';

/**
 * The database servers the SQL store tests use (installed on the test machine, like redis-server).
 * Other test files use them at the same time: each run works in a database of its own, with a
 * random name, dropped at the end, and never restarts or reconfigures a server.
 */
const POSTGRES_SERVER = 'postgres://postgres@127.0.0.1:5432';
const MYSQL_SERVER = 'mysql://root@127.0.0.1:3306';

const uniqueName = (kind: string) => `herald_${kind}_${randomBytes(6).toString('hex')}`;

export interface TestDatabase extends AsyncDisposable {
  /** The database's URL, as Herald is given it. */
  url: string;
  name: string;
  /** A URL for another login on the same database (the login must exist). */
  urlAs(user: string): string;
  /** Runs SQL as the server's superuser, in this database. */
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  drop(): Promise<void>;
}

export async function createPostgresDatabase(): Promise<TestDatabase> {
  const name = uniqueName('pg');
  const admin = new pg.Client({ connectionString: `${POSTGRES_SERVER}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const client = new pg.Client({ connectionString: `${POSTGRES_SERVER}/${name}` });
  await client.connect();
  const drop = async () => {
    await client.end();
    const a = new pg.Client({ connectionString: `${POSTGRES_SERVER}/postgres` });
    await a.connect();
    // FORCE ends connections a failed test left open, so the drop never waits on them.
    await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await a.end();
  };
  return {
    url: `${POSTGRES_SERVER}/${name}`,
    name,
    urlAs: (user) => `postgres://${user}@127.0.0.1:5432/${name}`,
    query: async <R>(sql: string, params: unknown[] = []) => (await client.query(sql, params)).rows as R[],
    drop,
    [Symbol.asyncDispose]: drop,
  };
}

export async function createMysqlDatabase(): Promise<TestDatabase> {
  const name = uniqueName('my');
  const conn = await mysql.createConnection({ uri: MYSQL_SERVER });
  await conn.query(`CREATE DATABASE ${name} CHARACTER SET utf8mb4`);
  await conn.query(`USE ${name}`);
  const drop = async () => {
    await conn.query(`DROP DATABASE IF EXISTS ${name}`);
    await conn.end();
  };
  return {
    url: `${MYSQL_SERVER}/${name}`,
    name,
    urlAs: (user) => `mysql://${user}@127.0.0.1:3306/${name}`,
    query: async <R>(sql: string, params: unknown[] = []) => {
      const [rows] = await conn.query(sql, params);
      return (Array.isArray(rows) ? rows : [rows]) as R[];
    },
    drop,
    [Symbol.asyncDispose]: drop,
  };
}
