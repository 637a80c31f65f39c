// Which events a subscriber of the `scale` scenario was owed, and whether it got them. A subscriber
// is owed an event when it was subscribed before the event was sent and stayed subscribed until
// well after its trigger was answered (the margin: the phase's own, at least the longest delivery
// seen in it): a subscriber that left meanwhile may lose it (delivery is at most once), and such
// events are counted apart as "away", never as loss.
import { TriggerStatus } from './scale-publisher.mjs';

/**
 * A connection's subscribed intervals are a flat array [start, end, gw, ...] (end 0 while still
 * subscribed). Returns the gateway of the interval covering [a, b], or -1.
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

/** Per phase and stream: owed, received of those owed, owed but missing, and sent while away. */
export class LossTally {
  constructor() {
    this.byPhase = {};
    /** A few missing deliveries, with where their subscriber was: what to look at first. */
    this.examples = [];
  }

  #cell(phase, stream) {
    const p = (this.byPhase[phase] ??= { streams: {}, byGw: {} });
    return (p.streams[stream] ??= { owed: 0, got: 0, missing: 0, away: 0 });
  }

  owed(phase, stream, gw, got) {
    const c = this.#cell(phase, stream);
    c.owed++;
    const g = (this.byPhase[phase].byGw[gw] ??= { owed: 0, missing: 0 });
    g.owed++;
    if (got) c.got++;
    else {
      c.missing++;
      g.missing++;
    }
  }

  away(phase, stream) {
    this.#cell(phase, stream).away++;
  }

  example(what) {
    if (this.examples.length < 10) this.examples.push(what);
  }
}

/**
 * Tallies one subscriber's owed events of a trigger stream: `seqs` the trigger sequence numbers
 * that went to its channel, `table` the publisher's record of them, `has(seq)` whether it got one.
 */
export function tallyTriggers(tally, { id, iv, seqs, table, has, phases, marginUs, stream }) {
  for (const seq of seqs) {
    if (table.status[seq] !== TriggerStatus.Ok) continue;
    const t = table.tSend[seq];
    const w = windowAt(phases, t);
    if (!w) continue;
    const phase = w.id;
    const at = coveringIndex(iv, t, table.tResp[seq] + (w.marginUs ?? marginUs));
    if (at >= 0) {
      const got = has(seq);
      tally.owed(phase, stream, iv[at + 2], got);
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
          answeredMs: (table.tResp[seq] - t) / 1000,
          leftMsAfter: end ? (end - t) / 1000 : null,
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
        tally.owed(phase, 'ce', receiver.iv[at + 2], got);
        if (!got) {
          const end = receiver.iv[at + 1];
          const from = coveringIndex(sender.iv, t, t + m);
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
          });
        }
      } else if (!subscribedAt(receiver.iv, t)) tally.away(phase, 'ce');
    }
  }
}
