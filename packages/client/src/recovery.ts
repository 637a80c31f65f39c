/**
 * Message recovery, shared by push.js and the pusher-js plugin: the last position received on a
 * channel, the position to resubscribe with, and what a `subscription_succeeded` answer means.
 *
 * Wire format: a position is `"<epoch>:<offset>"` (epoch `[0-9a-z]{8,16}`, offset an integer
 * ≥ 1, one more per event of the channel). Events of a channel with history carry it as a
 * top-level `position`; a subscribe may carry the last one received; the answer
 * (`pusher_internal:subscription_succeeded`) carries the position after which the socket gets
 * every event and, when the subscribe carried one, `recovery: {recovered, reason?}`.
 */

/** Channel event: the events missed while disconnected follow (in order, exactly once). */
export const RECOVERED_EVENT = 'pusher:recovered';
/** Channel event: events may have been missed; the app should refetch the channel's state. */
export const RECOVERY_FAILED_EVENT = 'pusher:recovery_failed';

/**
 * Why recovery failed: the server's reasons, plus two decided by the client: `unsupported` when
 * the server answered a subscribe that carried a position without any `recovery` field, `unknown`
 * when its `recovery` named no reason.
 */
export type RecoveryFailureReason = 'epoch_changed' | 'too_old' | 'invalid_position' | 'history_off' | 'unsupported' | 'unknown' | (string & {});

/** Payload of `pusher:recovered`. */
export interface RecoveredEvent {
  /** The position the channel resumed from: the replayed events come after it. */
  position: string | undefined;
}

/** Payload of `pusher:recovery_failed`. */
export interface RecoveryFailedEvent {
  reason: RecoveryFailureReason;
  /** The position live events continue from, when the server sent one. */
  position: string | undefined;
}

export type RecoveryOutcome = { event: typeof RECOVERED_EVENT; data: RecoveredEvent } | { event: typeof RECOVERY_FAILED_EVENT; data: RecoveryFailedEvent };

interface Position {
  epoch: string;
  offset: number;
}

const POSITION = /^([0-9a-z]{8,16}):([1-9][0-9]{0,15})$/;

/** A valid `"<epoch>:<offset>"`, else undefined (an invalid position is treated as absent). */
function parsePosition(value: unknown): Position | undefined {
  if (typeof value !== 'string') return undefined;
  const m = POSITION.exec(value);
  if (!m) return undefined;
  const offset = Number(m[2]);
  return Number.isSafeInteger(offset) ? { epoch: m[1]!, offset } : undefined;
}

const format = (p: Position) => `${p.epoch}:${p.offset}`;

/** One subscription's position. A new subscription (after an unsubscribe) needs a new tracker. */
export class PositionTracker {
  private last: Position | undefined;
  /** The subscribe in flight carried a position, so its answer should say whether it recovered. */
  private requested = false;

  /** The last position received, `"<epoch>:<offset>"`; undefined before any. */
  get position(): string | undefined {
    return this.last && format(this.last);
  }

  /** The position to put on a `pusher:subscribe` now being sent (none before the first one). */
  positionForSubscribe(): string | undefined {
    const p = this.position;
    this.requested = p !== undefined;
    return p;
  }

  /**
   * A `pusher_internal:subscription_succeeded` frame's top-level `position` and `recovery`:
   * updates the position and returns the outcome to report (none when no position was sent and
   * the server reported none).
   */
  succeeded(framePosition: unknown, recovery: unknown): RecoveryOutcome | undefined {
    const requested = this.requested;
    this.requested = false;
    const own = this.last;
    const theirs = parsePosition(framePosition);
    const r = typeof recovery === 'object' && recovery !== null ? (recovery as { recovered?: unknown; reason?: unknown }) : undefined;
    if (r?.recovered === true) {
      // Keep the own position: the replayed events follow and advance it. (Without one, which a
      // subscribe carrying no position never gets, the server's is all there is.)
      if (!own) this.last = theirs;
      return { event: RECOVERED_EVENT, data: { position: this.position } };
    }
    this.last = theirs;
    if (r) {
      const reason = typeof r.reason === 'string' && r.reason !== '' ? r.reason : 'unknown';
      return { event: RECOVERY_FAILED_EVENT, data: { reason, position: this.position } };
    }
    if (requested) return { event: RECOVERY_FAILED_EVENT, data: { reason: 'unsupported', position: this.position } };
    return undefined;
  }

  /**
   * An event's top-level `position`: false when it is a stale duplicate (same epoch, offset not
   * greater than the last one) to be dropped; otherwise true, and the position moves to it. An
   * event without a valid position is always accepted; one from another epoch starts over there.
   */
  accept(eventPosition: unknown): boolean {
    const p = parsePosition(eventPosition);
    if (!p) return true;
    if (this.last && this.last.epoch === p.epoch && p.offset <= this.last.offset) return false;
    this.last = p;
    return true;
  }
}
