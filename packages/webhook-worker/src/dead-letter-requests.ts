import { invalidParameter } from './worker-http-error.js';

/** Ids as XADD makes them (`<ms>-<seq>`): anything else is refused before Redis sees it. */
const STREAM_ID = /^\d{1,20}-\d{1,20}$/;
/** Dead letters one request may name (and GET may list). */
const MAX_DEAD_LETTER_IDS = 10_000;

/** These dead letters, or every one (`ids` undefined, asked for explicitly). */
export interface DeadLetterSelection {
  ids: string[] | undefined;
}

function parseIds(v: unknown, name: string): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_DEAD_LETTER_IDS) {
    throw invalidParameter(`${name} must name 1 to ${MAX_DEAD_LETTER_IDS} dead letters`);
  }
  if (!v.every((id): id is string => typeof id === 'string' && STREAM_ID.test(id))) {
    throw invalidParameter(`${name} must hold dead-letter ids as GET /dead-letters lists them (like "1700000000000-0")`);
  }
  return v;
}

const REPLAY_USAGE = 'send Content-Type: application/json with {"ids": ["<id>", ...]} to replay those dead letters, or {"all": true} to replay every one';

/**
 * The body of POST /dead-letters/replay: exactly `{"ids": [...]}` or `{"all": true}` as
 * application/json. Anything else throws (400), so a body-less or form-encoded request, which a
 * browser sends cross-site without asking, can never replay anything.
 */
export function parseReplayBody(contentType: string | undefined, body: unknown): DeadLetterSelection {
  if (contentType?.split(';')[0]?.trim().toLowerCase() !== 'application/json') throw invalidParameter(`Content-Type must be application/json: ${REPLAY_USAGE}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof body === 'string' ? body : '');
  } catch {
    throw invalidParameter(`the body is not JSON: ${REPLAY_USAGE}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalidParameter(REPLAY_USAGE);
  const fields = parsed as Record<string, unknown>;
  const names = Object.keys(fields);
  if (names.length === 1 && fields.all === true) return { ids: undefined };
  if (names.length === 1 && names[0] === 'ids') return { ids: parseIds(fields.ids, 'ids') };
  throw invalidParameter(REPLAY_USAGE);
}

/** The query of DELETE /dead-letters: `?id=` (repeatable) or exactly `?all=true`; nothing else (no query: 400). */
export function parseDeleteQuery(query: Record<string, unknown>): DeadLetterSelection {
  const names = Object.keys(query);
  if (names.length === 1 && query.all === 'true') return { ids: undefined };
  if (names.length === 1 && names[0] === 'id') return { ids: parseIds([query.id].flat(), 'id') };
  throw invalidParameter('name the dead letters with ?id=<id> (repeatable), or delete every one with ?all=true');
}

/** `?count=` of GET /dead-letters: how many to list, oldest first. @default 100 */
export function parseCount(raw: unknown): number {
  if (raw === undefined) return 100;
  const n = typeof raw === 'string' && /^\d{1,6}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_DEAD_LETTER_IDS)) throw invalidParameter(`count must be an integer from 1 to ${MAX_DEAD_LETTER_IDS}`);
  return n;
}
