import { DEFAULT_LIMITS } from '@herald/protocol';
import type { App, AppList, AppWebhook, AuditEntry } from '../admin-types.js';
import { HeraldApiErrorCode, type HeraldApiError } from '../errors.js';

/** Columns separated by two spaces, each as wide as its widest cell; no trailing blanks. */
function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** `key: value` lines with the values aligned; a value of several lines continues under the first. */
function formatPairs(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...pairs.map(([k]) => k.length)) + 2;
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width)}${v.split('\n').join(`\n${' '.repeat(width)}`)}`).join('\n') + '\n';
}

const scalar = (v: unknown): string => (typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v)));

/** A webhook as its URL, followed by its other settings (events, prefix, format, headers) as JSON. */
function formatWebhook(w: AppWebhook): string {
  const { url, ...rest } = w;
  return Object.keys(rest).length === 0 ? url : `${url} ${JSON.stringify(rest)}`;
}

/** The order `show` prints an app's fields in; fields not named here (limits...) follow in the server's order. */
const FIRST = ['id', 'key', 'secret', 'enabled', 'webhooks', 'clientEvents', 'subscriptionCountEvents', 'cacheTtlSeconds', 'allowedOrigins'];
const LAST = ['previousSecrets', 'version', 'createdAt', 'updatedAt', 'source'];

export function formatApp(app: App): string {
  const record = app as unknown as Record<string, unknown>;
  const middle = Object.keys(record).filter((k) => !FIRST.includes(k) && !LAST.includes(k));
  const pairs: [string, string][] = [];
  for (const k of [...FIRST, ...middle, ...LAST]) {
    if (!Object.hasOwn(record, k)) continue;
    const v = record[k];
    if (k === 'webhooks' && Array.isArray(v)) pairs.push([k, v.length === 0 ? '(none)' : (v as AppWebhook[]).map(formatWebhook).join('\n')]);
    else if (k === 'allowedOrigins' && Array.isArray(v)) pairs.push([k, v.map(scalar).join(', ')]);
    else if (k === 'previousSecrets' && Array.isArray(v)) {
      pairs.push([k, v.length === 0 ? '(none)' : (v as { expiresAt?: unknown }[]).map((p) => `verifies until ${scalar(p.expiresAt)}`).join('\n')]);
    } else pairs.push([k, scalar(v)]);
  }
  return formatPairs(pairs);
}

export function formatAppList(list: AppList): string {
  const rows = list.apps.map((a) => [
    a.id,
    a.key,
    String(a.enabled),
    String(Array.isArray(a.webhooks) ? a.webhooks.length : 0),
    // A limit is in the document only when it differs from the default.
    String(a.maxConnections ?? DEFAULT_LIMITS.maxConnections),
    String(a.version),
    a.source,
  ]);
  const table = formatTable(['id', 'key', 'enabled', 'webhooks', 'maxConnections', 'version', 'source'], rows);
  const { kind, readOnly } = list.store ?? {};
  const why = typeof readOnly === 'string' ? ` (read-only: ${readOnly})` : readOnly === true ? ' (read-only)' : '';
  return `${table}${rows.length === 0 ? '(no apps)\n' : ''}\nstore: ${scalar(kind)}${why}\n`;
}

export function formatAudit(entries: readonly AuditEntry[]): string {
  if (entries.length === 0) return '(no entries)\n';
  const rows = entries.map((e) => [String(e.seq), e.at, e.action, e.appId, e.actor, String(e.version), JSON.stringify(e.changes)]);
  return formatTable(['seq', 'at', 'action', 'appId', 'actor', 'version', 'changes'], rows);
}

/**
 * A failed request for a person: the server's status, `error_code` and message, then each field a
 * validation refusal named; for a request that got no answer, what went wrong.
 */
export function formatFailure(err: HeraldApiError): string {
  if (err.code !== HeraldApiErrorCode.HttpStatus) return `${err.message}\n`;
  let message = err.body.slice(0, 500);
  try {
    const parsed = JSON.parse(err.body) as unknown;
    if (parsed !== null && typeof parsed === 'object' && typeof (parsed as { error?: unknown }).error === 'string')
      message = (parsed as { error: string }).error;
  } catch {
    /* not a JSON error body (a proxy's page): its text is the message */
  }
  const head = `refused: ${err.status}${err.errorCode !== undefined ? ` ${err.errorCode}` : ''}${message !== '' ? `: ${message}` : ''}\n`;
  return head + err.fields.map((f) => `  ${f.field}: ${f.message}\n`).join('');
}
