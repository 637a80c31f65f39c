import { validateAppDocument, type AppDocument, type FieldIssue } from '@herald/config';

/** One row of soketi's apps table, as the driver returns it (numbers may come as text, flags as 0/1). */
export type SoketiRow = Readonly<Record<string, unknown>>;

export type SoketiMapping = { ok: true; doc: AppDocument } | { ok: false; id: string; issues: FieldIssue[] };

const KB = 1024;

/**
 * soketi's per-app limits that have a Herald limit of the same meaning. soketi reads NULL, an
 * empty value and -1 as "not set" (its server-wide default, or no limit); so does this mapping,
 * and it leaves the Herald limit at Herald's default. 0 is read the same way: Herald's positive
 * limits cannot hold it, and where Herald's 0 exists it means "unlimited", not "nothing".
 */
const LIMITS = [
  { column: 'max_client_events_per_sec', field: 'maxClientEventsPerSecond', scale: 1 },
  { column: 'max_presence_members_per_channel', field: 'maxPresenceMembers', scale: 1 },
  { column: 'max_presence_member_size_in_kb', field: 'maxPresenceUserInfoBytes', scale: KB },
  { column: 'max_channel_name_length', field: 'maxChannelNameLength', scale: 1 },
  { column: 'max_event_channels_at_once', field: 'maxChannelsPerTrigger', scale: 1 },
  { column: 'max_event_name_length', field: 'maxEventNameLength', scale: 1 },
  { column: 'max_event_payload_in_kb', field: 'maxEventPayloadBytes', scale: KB },
  { column: 'max_event_batch_size', field: 'maxBatchSize', scale: 1 },
] as const;

/** A column whose value is not of its documented type. */
class ColumnError extends Error {
  constructor(
    readonly column: string,
    message: string,
  ) {
    super(message);
  }
}

/** A text column: undefined for NULL; numbers (an integer id column) as their digits. */
function textColumn(row: SoketiRow, column: string): string | undefined {
  const v = row[column];
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  throw new ColumnError(column, 'not text');
}

/** A number column: undefined for NULL / empty; drivers return BIGINT and DECIMAL as text. */
function numberColumn(row: SoketiRow, column: string): number | undefined {
  const v = row[column];
  if (v === null || v === undefined || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new ColumnError(column, 'not a number');
  return n;
}

/** A limit column set to a positive value, else undefined ("not set"). */
function limitColumn(row: SoketiRow, column: string): number | undefined {
  const n = numberColumn(row, column);
  return n !== undefined && n > 0 ? n : undefined;
}

/** soketi's flags are smallint / tinyint(1) (0 or 1), or boolean in some hand-made tables. */
function flagColumn(row: SoketiRow, column: string, fallback: boolean): boolean {
  const v = row[column];
  if (v === null || v === undefined || v === '') return fallback;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string' && /^(0|1|true|false)$/i.test(v)) return v === '1' || v.toLowerCase() === 'true';
  throw new ColumnError(column, 'not a flag (0 or 1)');
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * soketi's webhooks (`[{ url, event_types, filter: { channel_name_starts_with, … }, headers }]`)
 * as Herald webhooks. `filter.channel_name_ends_with` has no Herald equivalent and is dropped (the
 * receiver filters); a webhook without `url` (an AWS Lambda one) keeps no URL, so the app fails
 * validation and is reported rather than served without it.
 */
function webhooksColumn(row: SoketiRow): unknown[] {
  let v = row.webhooks;
  if (v === null || v === undefined || v === '') return [];
  if (Buffer.isBuffer(v)) v = v.toString('utf8');
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      throw new ColumnError('webhooks', 'not valid JSON');
    }
  }
  if (!Array.isArray(v)) throw new ColumnError('webhooks', 'not a JSON array');
  return v.map((w: unknown) => {
    if (!isObject(w)) return w;
    const filter = isObject(w.filter) ? w.filter : {};
    const prefix = filter.channel_name_starts_with;
    return {
      url: w.url,
      ...(w.event_types !== undefined && w.event_types !== null ? { events: w.event_types } : {}),
      ...(typeof prefix === 'string' && prefix !== '' ? { channel_prefix: prefix } : {}),
      ...(isObject(w.headers) ? { headers: w.headers } : {}),
    };
  });
}

/**
 * A row of soketi's apps table as a Herald app document, validated by the same rules as any
 * other app (a weak secret, an unknown webhook event or a bad id fail it). Columns Herald has no
 * setting for are not read: `enable_user_authentication` (Herald offers sign-in and never
 * requires it), and any column soketi's documentation does not define.
 */
export function documentFromSoketiRow(row: SoketiRow): SoketiMapping {
  let id = '';
  let raw: Record<string, unknown>;
  try {
    id = textColumn(row, 'id') ?? '';
    raw = {
      id,
      key: textColumn(row, 'key'),
      secret: textColumn(row, 'secret'),
      enabled: flagColumn(row, 'enabled', true),
      clientEvents: flagColumn(row, 'enable_client_messages', false),
      webhooks: webhooksColumn(row),
    };
    const connections = limitColumn(row, 'max_connections');
    if (connections !== undefined) raw.maxConnections = connections;
    // Herald has one budget for every REST request; soketi has one for published events and one
    // for reads. Their sum keeps within Herald's budget what kept within both of soketi's, and
    // either one unlimited leaves Herald's unlimited too.
    const events = limitColumn(row, 'max_backend_events_per_sec');
    const reads = limitColumn(row, 'max_read_req_per_sec');
    if (events !== undefined && reads !== undefined) raw.maxApiRequestsPerSecond = events + reads;
    for (const { column, field, scale } of LIMITS) {
      const n = limitColumn(row, column);
      if (n !== undefined) raw[field] = Math.floor(n * scale);
    }
  } catch (err) {
    if (!(err instanceof ColumnError)) throw err;
    return { ok: false, id, issues: [{ field: err.column, message: err.message }] };
  }
  const check = validateAppDocument(raw);
  return check.ok ? { ok: true, doc: check.doc } : { ok: false, id, issues: check.issues };
}
