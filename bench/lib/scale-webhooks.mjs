// Judging the `scale` scenario's webhooks from the receiver's records. Each event id ends with the
// channel's transition number (`<epoch>:<app>:<channel>:<seq>`, decided once by the workers), so
// per channel the events must be numbered 1..n without a gap (nothing decided went missing), arrive
// in that order, and, per channel and per (channel, user), alternate: occupied/vacated,
// added/removed, starting with the arrival and, after the teardown, ending with the departure.
import { Hist } from './hist.mjs';
import { phaseAt } from './scale-loss.mjs';

const seqOf = (id) => Number(id.slice(id.lastIndexOf(':') + 1));
const keyOf = (e) => (e.user === undefined ? e.channel : `${e.channel}\n${e.user}`);
const ARRIVE = { channel_occupied: true, member_added: true, channel_vacated: false, member_removed: false };

/** Unique events (first arrival of each id), and the repeated arrivals by phase. */
function unique(records, phases) {
  const byId = new Map();
  const dupesByPhase = {};
  let invalid = 0;
  let events = 0;
  for (const r of records) {
    if (!r.valid) invalid++;
    for (const e of r.events) {
      events++;
      if (byId.has(e.id)) {
        const p = phaseAt(phases, r.atUs);
        dupesByPhase[p] = (dupesByPhase[p] ?? 0) + 1;
      } else byId.set(e.id, { ...e, seq: seqOf(e.id), at: r.atUs });
    }
  }
  return { byId, dupesByPhase, invalid, events, requests: records.length };
}

/** Per key, its events in transition order. */
function byKey(events) {
  const out = new Map();
  for (const e of events) {
    const k = keyOf(e);
    let l = out.get(k);
    if (!l) out.set(k, (l = []));
    l.push(e);
  }
  for (const l of out.values()) l.sort((a, b) => a.seq - b.seq);
  return out;
}

/** What the webhooks last said, per key: true (occupied / member) or false. */
function reportedState(records) {
  const last = new Map();
  for (const r of records)
    for (const e of r.events) {
      const k = keyOf(e);
      const seq = seqOf(e.id);
      const cur = last.get(k);
      if (!cur || cur.seq < seq) last.set(k, { seq, present: ARRIVE[e.name] });
    }
  return last;
}

/**
 * Whether the webhooks agree with the clients (truth: channel → { n, lastUs, users }) for every
 * channel quiet since `quietBeforeUs`: { checked, wrong, examples, ok } (ok: channel → the change,
 * lastUs, its webhooks were found right at).
 */
export function webhooksAgree(records, truth, quietBeforeUs) {
  const last = reportedState(records);
  // Members the webhooks say are present, per channel.
  const present = new Map();
  for (const [k, v] of last) {
    const at = k.indexOf('\n');
    if (at < 0 || !v.present) continue;
    const ch = k.slice(0, at);
    let set = present.get(ch);
    if (!set) present.set(ch, (set = new Set()));
    set.add(k.slice(at + 1));
  }
  const out = { checked: 0, wrong: 0, examples: [], ok: new Map() };
  const check = (key, got, want) => {
    out.checked++;
    if (got === want) return true;
    out.wrong++;
    if (out.examples.length < 3) out.examples.push({ key: key.replace('\n', ' '), webhooks: got, clients: want });
    return false;
  };
  for (const [ch, t] of truth) {
    if (t.lastUs > quietBeforeUs) continue;
    let right = check(ch, last.get(ch)?.present ?? false, t.n > 0);
    if (t.users) {
      const users = new Set(t.users);
      const said = present.get(ch) ?? new Set();
      for (const u of said) if (!users.has(u)) right = check(`${ch}\n${u}`, true, false) && right;
      for (const u of users) right = check(`${ch}\n${u}`, said.has(u), true) && right;
    }
    if (right) out.ok.set(ch, t.lastUs);
  }
  return out;
}

/**
 * The whole run's verdict: { requests, invalid, events, unique, dupesByPhase, gaps, outOfOrder,
 * notAlternating, notArrivedFirst, notDeparted, unknownKeys, expected, missing, extra, latency }.
 * channels: [{ ch, users? }] (each owes an arrival and, after the teardown, a departure);
 * churn: [{ name, key, t, strict }] (strict ones owe their webhook, unless made while a fault's
 * aftermath was not over: `unsettled` [[fromUs, toUs]], from a fault until the REST API was exact
 * again, during which a dead gateway's sockets may still hold a member that left).
 */
export function judgeWebhooks({ records, channels, churn, phases, tornDown, unsettled = [] }) {
  const u = unique(records, phases);
  const all = [...u.byId.values()];
  const keys = byKey(all);
  const out = { requests: u.requests, invalid: u.invalid, events: u.events, unique: all.length, dupesByPhase: u.dupesByPhase };

  // Per channel: numbered 1..n, arriving in that order.
  const perChannel = new Map();
  for (const e of all) {
    let l = perChannel.get(e.channel);
    if (!l) perChannel.set(e.channel, (l = []));
    l.push(e);
  }
  out.gaps = 0;
  out.outOfOrder = 0;
  for (const l of perChannel.values()) {
    l.sort((a, b) => a.seq - b.seq);
    out.gaps += l.at(-1).seq - l.length;
    for (let i = 1; i < l.length; i++) if (l[i].at < l[i - 1].at) out.outOfOrder++;
  }

  // Per key: alternating, arrival first, departure last; what the mix and the churn owe.
  const wanted = new Set();
  for (const c of channels) {
    wanted.add(c.ch);
    for (const user of c.users ?? []) wanted.add(`${c.ch}\n${user}`);
  }
  out.notAlternating = 0;
  out.notArrivedFirst = 0;
  out.notDeparted = 0;
  out.unknownKeys = 0;
  for (const [k, l] of keys) {
    if (!wanted.has(k)) out.unknownKeys++;
    for (let i = 1; i < l.length; i++) if (ARRIVE[l[i].name] === ARRIVE[l[i - 1].name]) out.notAlternating++;
    if (!ARRIVE[l[0].name]) out.notArrivedFirst++;
    if (tornDown && ARRIVE[l.at(-1).name]) out.notDeparted++;
  }
  const owed = churn.filter((c) => c.strict && !unsettled.some(([a, b]) => c.t >= a && c.t <= b));
  out.expected = { arrivals: wanted.size, churn: owed.length, departures: tornDown ? wanted.size : 0 };
  out.missing = { arrivals: [...wanted].filter((k) => !keys.has(k)).length, churn: 0, departures: 0 };
  out.missingExamples = [];
  if (tornDown) out.missing.departures = [...wanted].filter((k) => !keys.has(k) || ARRIVE[keys.get(k).at(-1).name]).length;

  // Each owed churn transition: the first unused webhook of its key and kind after it.
  const used = new Set();
  const latency = {};
  let matched = 0;
  for (const c of owed.sort((a, b) => a.t - b.t)) {
    const hit = (keys.get(c.key) ?? []).find((e) => e.name === c.name && e.at > c.t && !used.has(e.id));
    if (!hit) {
      out.missing.churn++;
      if (out.missingExamples.length < 3)
        out.missingExamples.push({ ...c, phase: phaseAt(phases, c.t), events: (keys.get(c.key) ?? []).map((e) => [e.name, e.seq, e.at]) });
      continue;
    }
    used.add(hit.id);
    matched++;
    (latency[phaseAt(phases, c.t)] ??= new Hist()).record(hit.at - c.t);
    if (!out.slowest || hit.at - c.t > out.slowest.ms * 1000)
      out.slowest = { key: c.key.replace('\n', ' '), name: c.name, phase: phaseAt(phases, c.t), ms: Math.round((hit.at - c.t) / 1000), t: c.t };
  }
  // Beyond what was owed: transitions the faults caused (a channel empty longer than the debounce),
  // and those of churn cut by a fault (not owed, but they must still pair up, as checked above).
  out.extra = all.length - (out.expected.arrivals - out.missing.arrivals) - matched - (out.expected.departures - out.missing.departures);
  out.latency = latency;
  return out;
}
