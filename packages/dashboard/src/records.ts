/**
 * The debug console's records: what the stream sends, how a record is filtered and summed up in
 * one line. The record types are the broker's (docs/reference/dashboard.md, "Debug console").
 */
import type { DebugKind, DebugRecord } from '@herald/broker';
import { formatBytes } from './format.js';

export type { DebugKind, DebugRecord };

/** The broker's DEBUG_DATA_MAX (checked by a test): the broker's index is not for browsers. */
export const DEBUG_DATA_MAX = 1000;

/** Every kind, in the order the filter lists them. */
export const DEBUG_KINDS = [
  'connection_opened',
  'connection_closed',
  'subscribed',
  'subscription_failed',
  'unsubscribed',
  'api_event',
  'client_event',
  'webhook',
  'error_sent',
] as const satisfies readonly DebugKind[];

/** Short labels for the kind badges and checkboxes. */
export const KIND_LABELS: Record<DebugKind, string> = {
  connection_opened: 'Connection',
  connection_closed: 'Disconnection',
  subscribed: 'Subscribed',
  subscription_failed: 'Subscription failed',
  unsubscribed: 'Unsubscribed',
  api_event: 'API event',
  client_event: 'Client event',
  webhook: 'Webhook',
  error_sent: 'Error',
};

/** A message of the stream (`data:` line), once parsed and checked. */
export type StreamMessage = { type: 'hello'; node: string } | { type: 'record'; record: DebugRecord } | { type: 'skipped'; count: number };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses one `data:` payload; anything unexpected (another server version, a proxy's page) is null, not a crash. */
export function parseStreamMessage(text: string): StreamMessage | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(v)) return null;
  if (v.type === 'hello' && typeof v.node === 'string') return { type: 'hello', node: v.node };
  if (v.type === 'skipped' && typeof v.count === 'number' && v.count >= 0) return { type: 'skipped', count: v.count };
  if (v.type === 'record' && isObject(v.record) && (DEBUG_KINDS as readonly unknown[]).includes(v.record.kind) && typeof v.record.at === 'number') {
    return { type: 'record', record: v.record as unknown as DebugRecord };
  }
  return null;
}

/** The channels a record is about (an API event may name several); empty for connection records and webhooks. */
export function recordChannels(r: DebugRecord): string[] {
  if (r.kind === 'api_event') return r.channels;
  return 'channel' in r ? [r.channel] : [];
}

/** The event name a record is about, if any. */
export function recordEvent(r: DebugRecord): string | undefined {
  return r.kind === 'api_event' || r.kind === 'client_event' ? r.event : undefined;
}

export interface RecordFilter {
  kinds: ReadonlySet<DebugKind>;
  /** Substring of a channel name; empty: any record, with or without a channel. */
  channel: string;
  /** Substring of an event name; empty: any record. */
  event: string;
}

/**
 * Whether a record passes the filter. A channel or event filter hides the records that have no
 * channel or event: looking for one channel's traffic, connection noise is not wanted.
 */
export function matchesFilter(r: DebugRecord, f: RecordFilter): boolean {
  if (!f.kinds.has(r.kind)) return false;
  const channel = f.channel.trim().toLowerCase();
  if (channel && !recordChannels(r).some((c) => c.toLowerCase().includes(channel))) return false;
  const event = f.event.trim().toLowerCase();
  if (event && !(recordEvent(r) ?? '').toLowerCase().includes(event)) return false;
  return true;
}

/** One line saying what happened, without the kind (shown beside it) or the data (shown below). */
export function summarize(r: DebugRecord): string {
  switch (r.kind) {
    case 'connection_opened':
      return `${r.socketId} opened over ${r.transport}${r.origin ? ` from ${r.origin}` : ''}`;
    case 'connection_closed':
      return `${r.socketId} closed: ${r.code}${r.reason ? ` ${r.reason}` : ''}`;
    case 'subscribed':
      return `${r.socketId} → ${r.channel}${r.userId !== undefined ? ` as user ${r.userId}` : ''}`;
    case 'subscription_failed':
      return `${r.socketId} → ${r.channel} refused${r.code !== null ? ` (${r.code})` : ''}: ${r.reason}`;
    case 'unsubscribed':
      return `${r.socketId} left ${r.channel}`;
    case 'api_event':
      return `${r.event} → ${r.channels.join(', ')} · ${formatBytes(r.size)}${r.excludedSocketId ? ` · excluding ${r.excludedSocketId}` : ''}`;
    case 'client_event':
      return `${r.event} → ${r.channel} from ${r.socketId}${r.userId !== undefined ? ` (user ${r.userId})` : ''} · ${formatBytes(r.size)}`;
    case 'webhook': {
      const answer = r.status !== undefined ? `${r.status}` : (r.error ?? 'no answer');
      return `${r.events.join(', ')} → ${r.url}: ${answer} in ${Math.round(r.latencyMs)} ms, attempt ${r.attempt}, ${r.outcome.replace('_', ' ')}`;
    }
    case 'error_sent':
      return `${r.socketId}: ${r.code !== null ? `${r.code} ` : ''}${r.message}`;
  }
}

/** The payload of an event record, pretty-printed when it is JSON; undefined for other records. */
export function recordData(r: DebugRecord): string | undefined {
  if (r.kind !== 'api_event' && r.kind !== 'client_event') return undefined;
  // The stream cuts data at DEBUG_DATA_MAX characters; `size` (bytes) says how long the whole was.
  const cut = r.data.length >= DEBUG_DATA_MAX && r.size > r.data.length;
  try {
    if (!cut) return JSON.stringify(JSON.parse(r.data), null, 2);
  } catch {
    // Not JSON: shown as sent.
  }
  return cut ? `${r.data}… (first ${r.data.length} characters)` : r.data;
}

/** Whether a record tells of something that went wrong, for its colour. */
export function isFailure(r: DebugRecord): boolean {
  return (
    r.kind === 'subscription_failed' ||
    r.kind === 'error_sent' ||
    (r.kind === 'webhook' && r.outcome !== 'delivered') ||
    (r.kind === 'connection_closed' && r.code >= 4000 && r.code < 4200)
  );
}
