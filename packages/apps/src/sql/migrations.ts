/**
 * Versioned schema changes, applied in order, each once per database; the versions applied are
 * rows of `herald_schema_migrations`. A migration only adds (tables, columns, indexes): a node of
 * an older release keeps working against a newer schema, and nothing is ever dropped.
 */
export interface Migration {
  version: number;
  name: string;
  /** Run in order, inside one transaction where the database has transactional DDL. */
  statements: readonly string[];
}

export const MIGRATIONS_TABLE = 'herald_schema_migrations';

/** What the runner needs from one database connection. */
export interface MigrationSession {
  /**
   * Holds the database-wide migration lock around `fn`: several nodes starting at once apply
   * each migration exactly once, the others wait and then find nothing left to do.
   */
  withLock<T>(fn: () => Promise<T>): Promise<T>;
  /** Creates the migrations table when it is missing. */
  ensureTable(): Promise<void>;
  applied(): Promise<Set<number>>;
  /** Runs the statements and records the version, atomically where the database allows it. */
  apply(migration: Migration): Promise<void>;
}

/** Applies every migration not applied yet, in version order. */
export async function migrate(session: MigrationSession, migrations: readonly Migration[]): Promise<void> {
  await session.withLock(async () => {
    await session.ensureTable();
    const done = await session.applied();
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (!done.has(m.version)) await session.apply(m);
    }
  });
}
