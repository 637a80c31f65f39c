/**
 * Message recovery (docs/reference/protocol.md#message-recovery). A channel with history numbers
 * its events: a position `<epoch>:<offset>` names one, where the epoch is a random token chosen
 * when the channel's history starts (and again after it may have been lost) and the offset counts
 * the channel's events from 1 (0: before the first). Stock clients never see any of it: the
 * position rides in an extra top-level field of the frame, which they ignore.
 */

/** An epoch: 8 to 16 of [0-9a-z]. */
export const EPOCH_PATTERN = /^[0-9a-z]{8,16}$/;

const POSITION = /^([0-9a-z]{8,16}):(0|[1-9][0-9]{0,15})$/;

export interface Position {
  epoch: string;
  offset: number;
}

/** The position a client sent, or undefined when it is not one (any type, sign, size or shape). */
export function parsePosition(value: unknown): Position | undefined {
  if (typeof value !== 'string') return undefined;
  const m = POSITION.exec(value);
  if (m === null) return undefined;
  const offset = Number(m[2]);
  if (!Number.isSafeInteger(offset)) return undefined;
  return { epoch: m[1]!, offset };
}

export const formatPosition = (epoch: string, offset: number) => `${epoch}:${offset}`;

/** Why a recovery failed, as `recovery.reason` says it. */
export type RecoveryFailure = 'epoch_changed' | 'too_old' | 'invalid_position' | 'history_off' | 'unavailable';

export type Recovery = { recovered: true } | { recovered: false; reason: RecoveryFailure };

/** Top-level fields added to `pusher_internal:subscription_succeeded` on a history channel. */
export interface RecoveryFields {
  position?: string;
  recovery?: Recovery;
}

/**
 * `frame` (a JSON object, as encode.ts writes it) with `"position":"<position>"` as its last field:
 * the frame of an event of a history channel. The serialised frame is extended, never re-encoded.
 */
export function withPosition(frame: string, position: string): string {
  return `${frame.slice(0, -1)},"position":"${position}"}`;
}

const TAIL = '"}'.length;

/**
 * The offset of a frame `withPosition` made, read from its last bytes (no parsing), with its
 * epoch; undefined when the frame carries no position.
 */
export function positionOfFrame(frame: string | Uint8Array): Position | undefined {
  const text =
    typeof frame === 'string'
      ? frame.slice(-48)
      : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString('latin1', Math.max(0, frame.byteLength - 48));
  const at = text.lastIndexOf(',"position":"');
  if (at === -1 || !text.endsWith('"}')) return undefined;
  return parsePosition(text.slice(at + 13, text.length - TAIL));
}
