import { validateAppDocument, type AppDocument, type FieldIssue } from '@herald/config';

/** The widest app key the SQL schemas index (a MySQL unique index has a byte budget). */
const MAX_SQL_KEY_LENGTH = 255;

/** What an audit entry holds instead of a secret. */
const REDACTED = '(changed)';

/**
 * The document as it will be written. The admin API validates earlier; this is the backstop that
 * keeps a document no reader would accept out of the table.
 */
export function checkedDocument(doc: AppDocument): AppDocument {
  const check = validateAppDocument(doc);
  if (!check.ok) {
    throw new Error(`app document is invalid: ${check.issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`);
  }
  if (check.doc.key.length > MAX_SQL_KEY_LENGTH) {
    throw new Error(`app document is invalid: key: longer than ${MAX_SQL_KEY_LENGTH} characters, the most a SQL store holds`);
  }
  return check.doc;
}

/** The id of an update's document must be the app's: an id never changes. */
export function assertSameId(id: string, doc: AppDocument): void {
  if (doc.id !== id) throw new Error(`app document is invalid: id: ${doc.id} is not the id of the app it updates (${id})`);
}

/**
 * A stored document as read back, or undefined (reported through `onInvalid`) when it no longer
 * passes validation or does not belong to its row. `raw` is text where the driver returns JSON
 * columns as text (MariaDB).
 */
export function documentFromColumn(
  id: string,
  key: string | undefined,
  raw: unknown,
  onInvalid?: (id: string, issues: FieldIssue[]) => void,
): AppDocument | undefined {
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      onInvalid?.(id, [{ field: '(document)', message: 'not valid JSON' }]);
      return undefined;
    }
  }
  const check = validateAppDocument(value);
  if (!check.ok) {
    onInvalid?.(id, check.issues);
    return undefined;
  }
  const issues: FieldIssue[] = [];
  if (check.doc.id !== id) issues.push({ field: 'id', message: `the document's id ${check.doc.id} is not its row's (${id})` });
  if (key !== undefined && check.doc.key !== key) issues.push({ field: 'key', message: "the document's key is not its row's" });
  if (issues.length > 0) {
    onInvalid?.(id, issues);
    return undefined;
  }
  return check.doc;
}

/**
 * Audit changes with any secret of the documents involved replaced by `(changed)`. Callers already
 * write `(changed)` (AuditInput says so); this keeps a mistaken caller from putting a secret in a
 * table that is read far more widely than the apps table.
 */
export function redactSecrets(changes: Record<string, unknown>, ...docs: (AppDocument | undefined)[]): Record<string, unknown> {
  const secrets = new Set<string>();
  for (const d of docs) {
    if (d === undefined) continue;
    secrets.add(d.secret);
    for (const p of d.previousSecrets ?? []) secrets.add(p.secret);
  }
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return secrets.has(v) ? REDACTED : v;
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(changes) as Record<string, unknown>;
}

/** A JSON column's value: parsed by the driver already (PostgreSQL, MySQL), or text (MariaDB). */
export function jsonColumn(raw: unknown): unknown {
  return typeof raw === 'string' ? JSON.parse(raw) : raw;
}
