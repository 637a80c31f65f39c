import { StateUnavailableError, type HistoryPolicy, type HistorySlice } from '@herald/broker';
import type { App } from '@herald/config';
import { USER_CHANNEL_PREFIX, formatPosition, parsePosition, positionOfFrame, type Position, type Recovery, type RecoveryFields } from '@herald/protocol';
import type { HandlerContext } from './context.js';
import { socketLog, type SocketData } from './socket-data.js';

/**
 * The channel's history policy, or undefined when it keeps none: the app has none, the name starts
 * with none of its prefixes, or it is a `#server-to-user-` channel (joined at sign-in, where no
 * client sends a position). On the publish path this is one field check when history is off.
 */
export function historyPolicy(app: App, channel: string): HistoryPolicy | undefined {
  const h = app.history;
  if (h === undefined) return undefined;
  if (h.channelPrefixes !== undefined && !h.channelPrefixes.some((p) => channel.startsWith(p))) return undefined;
  if (channel.startsWith(USER_CHANNEL_PREFIX)) return undefined;
  return h;
}

/** What follows the subscription_succeeded of a history channel. */
export interface CatchUpResult {
  /** Its extra top-level fields. */
  extra: RecoveryFields;
  /** The replayed events, then what was published while the history was read, in order. */
  frames: (string | Uint8Array)[];
  recovered: boolean;
}

/** What a join adds to its subscription_succeeded (CatchUp, or historyOff). */
export interface JoinExtras {
  begin(): void;
  finish(): CatchUpResult;
}

/** A position sent for a channel without history. */
export const historyOff: JoinExtras = {
  begin: () => undefined,
  finish: () => ({ extra: { recovery: { recovered: false, reason: 'history_off' } }, frames: [], recovered: false }),
};

/**
 * One socket joining a history channel (docs/reference/protocol.md#message-recovery). `begin`
 * holds the channel's frames for the socket (it is kept off the topic); `read`, once the node's
 * interest in the channel is active, reads the history after the client's position and waits until
 * everything published before the read has arrived (held); `finish`, in the synchronous step that
 * subscribes the socket to the topic, says what to send: the replay, then the held frames numbered
 * after the last replayed one. Every event numbered after the position is in the replay, held, or
 * published after the socket joined the topic; none of them twice.
 */
export class CatchUp implements JoinExtras {
  readonly #asked: boolean;
  readonly #position: Position | undefined;
  #slice: HistorySlice | undefined;
  #taken = false;
  /** Set by finish. */
  recovered = false;

  constructor(
    private readonly ctx: HandlerContext,
    private readonly data: SocketData,
    private readonly channel: string,
    private readonly policy: HistoryPolicy,
    position: unknown,
  ) {
    this.#asked = position !== undefined;
    this.#position = parsePosition(position);
  }

  begin(): void {
    this.ctx.hub.watchEvents(this.data.app.id, this.channel, this.data.socketId);
  }

  async read(): Promise<void> {
    const { app } = this.data;
    const p = this.#position;
    try {
      // Without a usable position only the current offset is needed: nothing is read after it.
      this.#slice = await this.ctx.state.history.read(app.id, this.channel, this.policy, {
        after: p !== undefined ? p.offset : Number.MAX_SAFE_INTEGER,
        limit: this.policy.size,
      });
    } catch (err) {
      if (!(err instanceof StateUnavailableError)) throw err;
      socketLog(this.data).debug({ channel: this.channel }, 'history unreadable: subscribed without recovery');
      return;
    }
    await this.ctx.state.broker.sync(app.id, this.channel);
  }

  /** Stops holding; what to send after subscription_succeeded. Call once, with the topic subscription. */
  finish(): CatchUpResult {
    const held = this.#taken ? [] : this.ctx.hub.takeEvents(this.data.app.id, this.channel, this.data.socketId);
    this.#taken = true;
    const slice = this.#slice;
    if (slice === undefined) {
      return { extra: this.#asked ? { recovery: { recovered: false, reason: 'unavailable' } } : {}, frames: held, recovered: false };
    }
    const recovery = this.#asked ? this.#judge(slice) : undefined;
    const recovered = recovery?.recovered === true;
    const frames: (string | Uint8Array)[] = [];
    if (recovered) for (const e of slice.entries) frames.push(e.frame);
    let last = slice.offset;
    for (const frame of held) {
      const p = positionOfFrame(frame);
      if (p !== undefined && p.epoch === slice.epoch) {
        // Published before the read: in the replay, or before the position the client starts from.
        if (p.offset <= last) continue;
        last = p.offset;
      }
      frames.push(frame);
    }
    this.recovered = recovered;
    return { extra: { position: formatPosition(slice.epoch, slice.offset), ...(recovery ? { recovery } : {}) }, frames, recovered };
  }

  #judge(slice: HistorySlice): Recovery {
    const p = this.#position;
    if (p === undefined) return { recovered: false, reason: 'invalid_position' };
    if (p.epoch !== slice.epoch) return { recovered: false, reason: 'epoch_changed' };
    // Beyond the channel's latest event: no client was ever given it.
    if (p.offset > slice.offset) return { recovered: false, reason: 'invalid_position' };
    if (p.offset < slice.oldest - 1) return { recovered: false, reason: 'too_old' };
    return { recovered: true };
  }
}
