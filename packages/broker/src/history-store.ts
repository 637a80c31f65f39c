import { randomBytes } from 'node:crypto';

/**
 * Message recovery's storage (docs/reference/protocol.md#message-recovery). A channel with history
 * keeps its last `size` events for `ttlSeconds`, each numbered by an offset (1, 2, ... in the order
 * of publication) under the channel's epoch, a random token that changes whenever the history may
 * have been lost. The broker numbers and keeps an event in the step that publishes it (a
 * Publication with `history`), so offsets follow the order subscribers receive events in.
 */
export interface HistoryPolicy {
  size: number;
  ttlSeconds: number;
}

/** One kept event: its offset and the frame as subscribers got it (`position` included). */
export interface HistoryEntry {
  offset: number;
  frame: string;
  /** When it was published, ms since the Unix epoch (the store's clock). */
  publishedAt: number;
}

export interface HistorySlice {
  epoch: string;
  /** Offset of the channel's latest event; 0 before the first. */
  offset: number;
  /** Offset of the oldest event still kept (offset + 1 when none is). */
  oldest: number;
  /** Oldest first. */
  entries: HistoryEntry[];
}

export interface HistoryReadOptions {
  /** Only events after this offset. Unset: from the oldest kept. */
  after?: number;
  limit: number;
  /** The newest `limit` of them rather than the oldest (still returned oldest first). */
  newest?: boolean;
}

/**
 * Reads a channel's history. A channel without one yet gets its epoch (offset 0): a subscriber
 * then holds a position from before the first event.
 */
export interface HistoryStore {
  read(appId: string, channel: string, policy: HistoryPolicy, opts: HistoryReadOptions): Promise<HistorySlice>;
}

/**
 * How long a channel's epoch and offset outlive its last event (beyond `ttlSeconds`). Its events
 * are gone after `ttlSeconds`, but a client that missed none of them still recovers (nothing to
 * replay) rather than hearing "epoch changed": a quiet channel's subscribers keep their continuity
 * for a day, at the cost of one small hash per channel published to or subscribed in that day.
 */
export const EPOCH_GRACE_SECONDS = 86_400;

/**
 * New epochs: a random prefix of this process and a counter, so every epoch this process proposes
 * differs from all it proposed before (a channel's new epoch is never its lost one) and, with
 * 8 random base-36 characters, from other processes' too. 10 to 16 of [0-9a-z].
 */
export function epochSource(): () => string {
  const prefix = (randomBytes(8).readBigUInt64BE() % 36n ** 8n).toString(36).padStart(8, '0');
  let n = 0;
  return () => prefix + (n++).toString(36).padStart(2, '0');
}
