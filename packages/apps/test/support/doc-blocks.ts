import { readFileSync } from 'node:fs';
import type { TestDatabase } from '@herald/test-support';

const DOC = new URL('../../../../docs/app-stores-sql.md', import.meta.url);

/**
 * The SQL block of docs/app-stores-sql.md marked `<!-- tested: <id> -->`: the tests run the
 * document's own text, so the two cannot drift apart.
 */
export function documentedSql(id: string): string {
  const lines = readFileSync(DOC, 'utf8').split('\n');
  const marker = lines.indexOf(`<!-- tested: ${id} -->`);
  if (marker < 0 || lines[marker + 1] !== '```sql') throw new Error(`docs/app-stores-sql.md has no sql block tested as ${id}`);
  const end = lines.indexOf('```', marker + 2);
  return lines.slice(marker + 2, end).join('\n');
}

/** Runs a script of statements, each ending a line with `;`, one after the other on one connection. */
export async function runScript(db: TestDatabase, script: string): Promise<void> {
  for (const statement of script.split(/;\s*$/m).map((s) => s.trim())) {
    if (statement !== '') await db.query(statement);
  }
}
