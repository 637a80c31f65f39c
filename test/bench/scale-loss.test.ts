import { describe, expect, it } from 'vitest';
import { LossTally, tallyClientEvents, tallyTriggers } from '../../bench/lib/scale-loss.mjs';
import { TriggerStatus } from '../../bench/lib/scale-publisher.mjs';

/**
 * The `scale` scenario's loss judge (bench/lib/scale-loss.mjs): an owed trigger event that did not
 * arrive is lost (a hole, or an interval the client ended or still holds), unless the server cut
 * the interval and nothing sent after the event's trigger was answered arrived in it (cut).
 */
interface Cell {
  owed: number;
  got: number;
  missing: number;
  cut: number;
  away: number;
}
interface Phase {
  streams: Record<string, Cell>;
  byGw: Record<string, { owed: number; missing: number; cut: number }>;
}
interface Example {
  seq: number;
  cut?: boolean;
  gw: number;
}

const S = 1_000_000; // µs
const MARGIN = 2 * S;
const PHASE = 1;
const phases = [{ id: PHASE, startUs: 0, endUs: 1000 * S, marginUs: MARGIN }];

/** Triggers: [tSend, tResp] in µs, all published (200). */
function table(times: [number, number][]) {
  return {
    tSend: times.map(([s]) => s),
    tResp: times.map(([, r]) => r),
    status: times.map(() => TriggerStatus.Ok),
    gw: times.map(() => 5),
    ch: times.map(() => 0),
  };
}

/** Triggers k = 0..n-1 sent at (k + 1) s and answered 10 ms later. */
const evenly = (n: number) => table(Array.from({ length: n }, (_, k): [number, number] => [(k + 1) * S, (k + 1) * S + 10_000]));

/**
 * Judges one fan-out subscriber. `ivs`: [start, end (0: open), gw, cut] per interval; `got`: the
 * seqs it received, each in the interval whose [start, end] holds its send time (the latest send
 * time per interval goes to ivx, as scale-client.mjs records it).
 */
function judge(t: ReturnType<typeof table>, ivs: [number, number, number, 0 | 1][], got: number[]) {
  const iv: number[] = [];
  const ivx: number[] = [];
  for (const [start, end, gw, cut] of ivs) {
    iv.push(start, end, gw);
    let lastT = 0;
    for (const seq of got) {
      const ts = t.tSend[seq]!;
      if (ts >= start && (end === 0 || ts < end)) lastT = Math.max(lastT, ts);
    }
    ivx.push(cut, lastT);
  }
  const tally = new LossTally();
  const recv = new Set(got);
  tallyTriggers(tally, {
    id: 7,
    iv,
    ivx,
    seqs: t.tSend.map((_, i) => i),
    table: t,
    has: (seq: number) => recv.has(seq),
    phases,
    marginUs: MARGIN,
    stream: 'fan',
  });
  const p = (tally.byPhase as Record<string, Phase>)[PHASE]!;
  return { cell: p.streams.fan!, byGw: p.byGw, examples: tally.examples as Example[] };
}

describe('scale loss: lost (a hole) or cut in flight', () => {
  it('counts a hole in a still open interval as lost, and its tail too', () => {
    const { cell, examples } = judge(evenly(5), [[S / 2, 0, 0, 0]], [0, 1, 3]);
    expect(cell).toEqual({ owed: 5, got: 3, missing: 2, cut: 0, away: 0 });
    expect(examples.map((e) => [e.seq, e.cut ?? false])).toEqual([
      [2, false],
      [4, false],
    ]);
  });

  it('counts a hole in an interval the server cut as lost when a later event arrived in it', () => {
    // Seq 2 missing, seq 3 (sent after seq 2 was answered) received: a hole. Seq 4: the cut's tail.
    const { cell, byGw, examples } = judge(evenly(5), [[S / 2, 20 * S, 3, 1]], [0, 1, 3]);
    expect(cell).toEqual({ owed: 5, got: 3, missing: 1, cut: 1, away: 0 });
    expect(byGw[3]).toEqual({ owed: 5, missing: 1, cut: 1 });
    expect(examples.map((e) => [e.seq, e.cut ?? false])).toEqual([
      [2, false],
      [4, true],
    ]);
  });

  it('counts a tail of missing events in an interval the server cut as cut, not lost', () => {
    const { cell, byGw, examples } = judge(evenly(5), [[S / 2, 20 * S, 2, 1]], [0, 1, 2]);
    expect(cell).toEqual({ owed: 5, got: 3, missing: 0, cut: 2, away: 0 });
    expect(byGw[2]).toEqual({ owed: 5, missing: 0, cut: 2 });
    expect(examples).toMatchObject([
      { seq: 3, cut: true, gw: 2 },
      { seq: 4, cut: true, gw: 2 },
    ]);
  });

  it('counts a cut interval with nothing received in it as cut', () => {
    const { cell } = judge(evenly(3), [[S / 2, 20 * S, 0, 1]], []);
    expect(cell).toEqual({ owed: 3, got: 0, missing: 0, cut: 3, away: 0 });
  });

  it("counts a tail in an interval ended by the client's own leave as lost, as before", () => {
    const { cell, examples } = judge(evenly(5), [[S / 2, 20 * S, 0, 0]], [0, 1, 2]);
    expect(cell).toEqual({ owed: 5, got: 3, missing: 2, cut: 0, away: 0 });
    expect(examples.every((e) => !e.cut)).toBe(true);
  });

  it('owes nothing the margin does not cover, cut or not', () => {
    // The interval ends 1.5 s after seq 4's answer (margin 2 s): seq 4 is neither owed nor away.
    const t = evenly(5);
    for (const cut of [0, 1] as const) {
      const { cell } = judge(t, [[S / 2, t.tResp[4]! + 1.5 * S, 0, cut]], [0, 1, 2]);
      expect(cell).toEqual({ owed: 4, got: 3, missing: cut ? 0 : 1, cut: cut ? 1 : 0, away: 0 });
    }
  });

  it('does not take an event sent before the missing one was answered for a later one', () => {
    // Seq 1 is answered at 3.5 s; seq 2, sent at 3.2 s (its trigger overlapping seq 1's), arrived:
    // not definitely published after seq 1, so seq 1 may still be in flight behind it at the cut.
    const t = table([
      [1 * S, 1.01 * S],
      [3 * S, 3.5 * S],
      [3.2 * S, 3.3 * S],
    ]);
    expect(judge(t, [[S / 2, 20 * S, 0, 1]], [0, 2]).cell).toEqual({ owed: 3, got: 2, missing: 0, cut: 1, away: 0 });
    // Sent exactly when seq 1 was answered: still not definitely after it.
    t.tSend[2] = t.tResp[1]!;
    expect(judge(t, [[S / 2, 20 * S, 0, 1]], [0, 2]).cell).toEqual({ owed: 3, got: 2, missing: 0, cut: 1, away: 0 });
    // Sent after seq 1 was answered: a hole.
    t.tSend[2] = t.tResp[1]! + 1;
    expect(judge(t, [[S / 2, 20 * S, 0, 1]], [0, 2]).cell).toEqual({ owed: 3, got: 2, missing: 1, cut: 0, away: 0 });
  });

  it('does not take an event received in a later interval for one received in the cut one', () => {
    // Cut at 20 s with seqs 7 on (sent from 8 s) in flight; back at 22 s on another gateway, which
    // delivered seq 9 (sent at 10 s, before the cut, after seqs 7 and 8 were answered) late. The
    // connection's bitmap has seq 9, but it arrived in the second interval (ivx as scale-client.mjs
    // records it), so seqs 7 and 8 are no hole in the first.
    const t = evenly(26);
    const got = new Set([0, 1, 2, 3, 4, 5, 6, 9, 21, 22, 23, 24, 25]);
    const tally = new LossTally();
    tallyTriggers(tally, {
      id: 1,
      iv: [S / 2, 20 * S, 0, 22 * S, 0, 4],
      ivx: [1, t.tSend[6], 0, t.tSend[25]],
      seqs: t.tSend.map((_, i) => i),
      table: t,
      has: (seq: number) => got.has(seq),
      phases,
      marginUs: MARGIN,
      stream: 'fan',
    });
    const p = (tally.byPhase as Record<string, Phase>)[PHASE]!;
    // Owed in the first: seqs 0-16 (answered + 2 s by 20 s); in the second: 21-25; seq 20 (sent at
    // 21 s, between the two) away.
    expect(p.streams.fan).toEqual({ owed: 22, got: 13, missing: 0, cut: 9, away: 1 });
    expect(p.byGw).toEqual({ 0: { owed: 17, missing: 0, cut: 9 }, 4: { owed: 5, missing: 0, cut: 0 } });
  });

  it('skips triggers not published and lists lost examples before a few cut ones', () => {
    const t = evenly(30);
    t.status[0] = TriggerStatus.Uncertain;
    // Owed in the first interval (the client left at 16 s): seqs 1-12, none received: lost. In the
    // second (cut at 40 s): seqs 16-29, of which 16 and 17 received: 12 cut.
    const { cell, examples } = judge(
      t,
      [
        [S / 2, 16 * S, 0, 0],
        [16.5 * S, 40 * S, 1, 1],
      ],
      [16, 17],
    );
    expect(cell).toEqual({ owed: 26, got: 2, missing: 12, cut: 12, away: 0 });
    expect(examples.filter((e) => !e.cut)).toHaveLength(10);
    expect(examples.filter((e) => e.cut)).toHaveLength(3);
    expect(examples.findIndex((e) => e.cut)).toBe(10);
  });
});

/**
 * Client events: one sender and one receiver of a private channel. `sent`: the sender's events by
 * send time (s); `got`: indexes of those the receiver received. Intervals as in judge, without lastT.
 */
function judgeClientEvents(senderIv: [number, number, number, 0 | 1], receiverIv: [number, number, number, 0 | 1], sent: number[], got: number[]) {
  const member = (id: number, [start, end, gw, cut]: [number, number, number, 0 | 1]) => ({
    id,
    iv: [start, end, gw],
    ivx: [cut, 0],
    recv: new Set<number>(),
    sentSeqs: [] as number[],
  });
  const sender = member(1, senderIv);
  const receiver = member(2, receiverIv);
  sender.sentSeqs = sent.map((_, i) => i);
  for (const i of got) receiver.recv.add(i);
  const tally = new LossTally();
  tallyClientEvents(tally, { receiver, senders: [sender, receiver], log: { t: sent.map((x) => x * S) }, phases, marginUs: MARGIN });
  return (tally.byPhase as Record<number, Phase>)[PHASE]!.streams.ce;
}

describe('scale loss: client events', () => {
  it('counts a client event missing before a later one of the same sender arrived as lost', () => {
    expect(judgeClientEvents([0, 0, 0, 0], [0, 40 * S, 1, 1], [1, 2, 3, 4], [0, 2, 3])).toEqual({ owed: 4, got: 3, missing: 1, cut: 0, away: 0 });
  });

  it("counts the tail the sender's killed gateway still held when it was cut as cut", () => {
    // The sender's gateway cut it at 10 s (the client saw it late); what it sent from 5 s on never came.
    expect(judgeClientEvents([0, 10 * S, 0, 1], [0, 0, 1, 0], [1, 2, 5, 6, 7], [0, 1])).toEqual({ owed: 5, got: 2, missing: 0, cut: 3, away: 0 });
  });

  it("counts a tail as lost when neither the sender's nor the receiver's connection was cut by a server", () => {
    expect(judgeClientEvents([0, 0, 0, 0], [0, 0, 1, 0], [1, 2, 5, 6], [0, 1])).toEqual({ owed: 4, got: 2, missing: 2, cut: 0, away: 0 });
  });
});
