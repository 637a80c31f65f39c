// Which events a subscriber of the `scale` scenario was owed, and whether it got them. A subscriber
// is owed an event when it was subscribed before the event was sent and stayed subscribed until
// well after its trigger was answered (the margin: the phase's own, at least the longest delivery
// seen in it): a subscriber that left meanwhile may lose it (delivery is at most once), and such
// events are counted apart as "away", never as loss.
//
// An owed trigger event that did not arrive is lost, except when the server cut the subscription
// (a close the client did not ask for, or a closing pusher:error) and nothing published definitely
// after it (sent after its trigger was answered) arrived in that subscription either: then it was
// still on its way inside the server when the server cut (a killed or draining gateway loses what
// it had not written; at most once), and it is counted apart as "cut". A channel's events arrive in
// the order they were published, so a later one received means the missing one was dropped: lost.
// Client events likewise, with either end's connection cut and only the same sender's later events
// as proof (one sender's events pass through one gateway, in order).
import { TriggerStatus } from './scale-publisher.mjs';

/**
 * A connection's subscribed intervals are a flat array [start, end, gw, ...] (end 0 while still
 * subscribed), and beside it `ivx`, [cut, lastT, ...] per interval: cut 1 when the server ended it
 * (a close the client did not ask for, a closing pusher:error), 0 when open or ended by the client;
 * lastT the latest send time (µs, the trigger's tSend) of the events received while it was open, 0
 * if none. Returns the gateway of the interval covering [a, b], or -1.
 */
function coveringGateway(iv, a, b) {
  const i = coveringIndex(iv, a, b);
  return i < 0 ? -1 : iv[i + 2];
}

function coveringIndex(iv, a, b) {
  for (let i = 0; i < iv.length; i += 3) {
    const end = iv[i + 1] === 0 ? Infinity : iv[i + 1];
    if (iv[i] <= a && end >= b) return i;
  }
  return -1;
}

function subscribedAt(iv, t) {
  for (let i = 0; i < iv.length; i += 3) if (iv[i] <= t && (iv[i + 1] === 0 || iv[i + 1] >= t)) return true;
  return false;
}

/** The window (of phases sorted by start) that holds t, or undefined. */
function windowAt(phases, t) {
  for (let i = phases.length - 1; i >= 0; i--) if (t >= phases[i].startUs) return t < (phases[i].endUs ?? Infinity) ? phases[i] : undefined;
  return undefined;
}

/** The id of the phase whose window holds t (phases sorted by start), or -1. */
export function phaseAt(phases, t) {
  return windowAt(phases, t)?.id ?? -1;
}

/**
 * Per phase and stream: owed, received of those owed, owed but missing (lost), owed but in flight
 * when the server cut the subscription (cut; owed = got + missing + cut), and sent while away.
 */
export class LossTally {
  #lost = [];
  #cut = [];

  constructor() {
    this.byPhase = {};
  }

  /** A few missing deliveries, with where their subscriber was: what to look at first (lost, then cut). */
  get examples() {
    return [...this.#lost, ...this.#cut];
  }

  #cell(phase, stream) {
    const p = (this.byPhase[phase] ??= { streams: {}, byGw: {} });
    return (p.streams[stream] ??= { owed: 0, got: 0, missing: 0, cut: 0, away: 0 });
  }

  /** One owed delivery: received (got), else in flight at a cut (cut) or lost. */
  owed(phase, stream, gw, got, cut = false) {
    const c = this.#cell(phase, stream);
    c.owed++;
    const g = (this.byPhase[phase].byGw[gw] ??= { owed: 0, missing: 0, cut: 0 });
    g.owed++;
    if (got) c.got++;
    else if (cut) {
      c.cut++;
      g.cut++;
    } else {
      c.missing++;
      g.missing++;
    }
  }

  away(phase, stream) {
    this.#cell(phase, stream).away++;
  }

  example(what) {
    if (what.cut) {
      if (this.#cut.length < 3) this.#cut.push(what);
    } else if (this.#lost.length < 10) this.#lost.push(what);
  }
}

/**
 * Tallies one subscriber's owed events of a trigger stream: `seqs` the trigger sequence numbers
 * that went to its channel, `table` the publisher's record of them, `has(seq)` whether it got one,
 * `ivx` its intervals' ends and latest events (see coveringGateway; without it, no interval counts
 * as cut). A missing event s1 is cut when its interval was cut by the server and the latest event
 * received in it was not sent after s1's trigger was answered (lastT <= tResp[s1]); otherwise lost.
 */
export function tallyTriggers(tally, { id, iv, ivx, seqs, table, has, phases, marginUs, stream }) {
  for (const seq of seqs) {
    if (table.status[seq] !== TriggerStatus.Ok) continue;
    const t = table.tSend[seq];
    const w = windowAt(phases, t);
    if (!w) continue;
    const phase = w.id;
    const tResp = table.tResp[seq];
    const at = coveringIndex(iv, t, tResp + (w.marginUs ?? marginUs));
    if (at >= 0) {
      const got = has(seq);
      const x = (at / 3) * 2;
      // Nothing definitely published after it arrived before the server cut: in flight at the cut.
      const cut = !got && ivx?.[x] === 1 && !(ivx[x + 1] > tResp);
      tally.owed(phase, stream, iv[at + 2], got, cut);
      if (!got) {
        const end = iv[at + 1];
        tally.example({
          stream,
          conn: id,
          seq,
          phase,
          gw: iv[at + 2],
          via: table.gw[seq],
          subscribedMsBefore: (t - iv[at]) / 1000,
          answeredMs: (tResp - t) / 1000,
          leftMsAfter: end ? (end - t) / 1000 : null,
          // In a cut interval: when the latest event received in it was sent, after this one.
          ...(ivx?.[x] === 1 ? { latestGotSentMsAfter: ivx[x + 1] ? (ivx[x + 1] - t) / 1000 : null } : {}),
          ...(cut ? { cut: true } : {}),
        });
      }
    } else if (!subscribedAt(iv, t)) tally.away(phase, stream);
  }
}

/**
 * Tallies the client events a member of a private channel was owed: those its channel's other
 * members sent while both were subscribed, the sender long enough for its frame to be relayed.
 */
export function tallyClientEvents(tally, { receiver, senders, log, phases, marginUs }) {
  for (const sender of senders) {
    if (sender === receiver) continue;
    for (const seq of sender.sentSeqs) {
      const t = log.t[seq];
      const w = windowAt(phases, t);
      if (!w) continue;
      const phase = w.id;
      const m = w.marginUs ?? marginUs;
      if (coveringGateway(sender.iv, t, t + m) < 0) continue;
      const at = coveringIndex(receiver.iv, t, t + m);
      if (at >= 0) {
        const got = receiver.recv.has(seq);
        const from = coveringIndex(sender.iv, t, t + m);
        const cut = !got && cutInFlight(sender, from, receiver, at, seq, log);
        tally.owed(phase, 'ce', receiver.iv[at + 2], got, cut);
        if (!got) {
          const end = receiver.iv[at + 1];
          tally.example({
            stream: 'ce',
            conn: receiver.id,
            from: sender.id,
            seq,
            phase,
            gw: receiver.iv[at + 2],
            via: sender.iv[from + 2],
            subscribedMsBefore: (t - receiver.iv[at]) / 1000,
            leftMsAfter: end ? (end - t) / 1000 : null,
            ...(cut ? { cut: true } : {}),
          });
        }
      } else if (!subscribedAt(receiver.iv, t)) tally.away(phase, 'ce');
    }
  }
}

/**
 * Whether a client event `seq` the receiver missed was in flight when a server cut the sender's
 * interval (index `from`) or the receiver's (index `at`): one of them was cut, and no later event of
 * the same sender, sent before either interval ended, reached the receiver. One sender's events
 * leave through one gateway and arrive in the order it sent them, so a later one received means this
 * one was dropped. Events of different senders have no order between them and prove nothing.
 */
function cutInFlight(sender, from, receiver, at, seq, log) {
  const senderCut = sender.ivx?.[(from / 3) * 2] === 1;
  const receiverCut = receiver.ivx?.[(at / 3) * 2] === 1;
  if (!senderCut && !receiverCut) return false;
  const t = log.t[seq];
  const until = Math.min(sender.iv[from + 1] || Infinity, receiver.iv[at + 1] || Infinity);
  for (const later of sender.sentSeqs) {
    const tl = log.t[later];
    if (tl > t && tl < until && receiver.recv.has(later)) return false;
  }
  return true;
}
