// Convergence checks of the `scale` scenario through Herald's REST API: every channel's
// subscription count and every presence channel's users, cluster-wide, against what the clients
// themselves hold; and each presence client's own member list. A channel that changed within
// `settleMs` before a check is left out of that check (its change may still be on its way).
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './servers.mjs';
import { log, nowUs, sleep } from './util.mjs';

const { signApiRequest } = await import(pathToFileURL(path.join(ROOT, 'packages/protocol/dist/index.js')).href);
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** A signed GET of the REST API; resolves with the parsed answer, throws on a non-200. */
function restGet(apiBase, app, apiPath, params = {}) {
  const qs = signApiRequest({ key: app.key, secret: app.secret, method: 'GET', path: apiPath, params });
  return new Promise((resolve, reject) => {
    const u = new URL(apiBase);
    const req = http.get({ host: u.hostname, port: u.port, path: `${apiPath}?${qs}`, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`GET ${apiPath}: ${res.statusCode} ${text.slice(0, 200)}`))));
    });
    req.setTimeout(30000, () => req.destroy(new Error(`GET ${apiPath} timed out`)));
    req.on('error', reject);
  });
}

async function mapLimit(items, limit, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/**
 * What the REST API answered for a channel ({ count, userCount, users } of a presence channel)
 * against its clients' truth ({ n, users }): undefined when they agree, else what differs.
 */
function mismatch(ch, t, got) {
  if (got.count !== t.n) return { ch, subscription_count: got.count, clients: t.n };
  if (!t.users) return undefined;
  if (got.userCount !== t.users.length) return { ch, user_count: got.userCount, clients: t.users.length };
  const have = [...got.users].sort();
  const want = [...t.users].sort();
  return have.join() === want.join() ? undefined : { ch, users: have, clients: want };
}

/**
 * One comparison of the REST API's counts and member lists with the clients' truth. The truth is
 * read after every REST answer is in, and a channel that changed since `settleMs` before the first
 * request is left out: whatever it went through while being read, the others did not move.
 */
async function compare({ apiBase, app, pool, settleMs }) {
  const t0 = nowUs();
  const settledBefore = t0 - settleMs * 1000;
  const [all, pres] = await Promise.all([
    restGet(apiBase, app, `/apps/${app.id}/channels`, { info: 'subscription_count' }),
    restGet(apiBase, app, `/apps/${app.id}/channels`, { filter_by_prefix: 'presence-', info: 'user_count' }),
  ]);
  // Every presence channel's member list, one request each (an empty channel answers no users).
  const lists = new Map();
  const presNames = [...new Set([...pool.presenceChannels, ...Object.keys(pres.channels)])];
  await mapLimit(presNames, 16, async (ch) => {
    const r = await restGet(apiBase, app, `/apps/${app.id}/channels/${ch}/users`);
    lists.set(
      ch,
      r.users.map((u) => u.id),
    );
  });
  const truth = await pool.truth();
  // ok: channel → the change (lastUs) it was found right at, by the REST API and by its clients.
  const out = { truth, ok: new Map(), checked: 0, wrong: 0, skipped: 0, examples: [] };
  const wrong = (what) => {
    out.wrong++;
    if (out.examples.length < 3) out.examples.push(what);
  };
  for (const ch of new Set([...truth.keys(), ...Object.keys(all.channels)])) {
    const t = truth.get(ch) ?? { n: 0, lastUs: 0 };
    if (t.lastUs > settledBefore) {
      out.skipped++;
      continue;
    }
    out.checked++;
    const found = mismatch(ch, t, {
      count: all.channels[ch]?.subscription_count ?? 0,
      userCount: pres.channels[ch]?.user_count ?? 0,
      users: lists.get(ch) ?? [],
    });
    if (found) wrong(found);
    else out.ok.set(ch, t.lastUs);
  }
  const views = await pool.views(settleMs);
  out.viewsChecked = views.checked;
  out.viewsWrong = views.wrong;
  out.wrong += views.wrong;
  out.examples.push(...views.examples.slice(0, 3 - out.examples.length));
  // A presence channel is right only if its clients' lists are too (checked at the same change).
  const viewsOk = new Map(views.ok);
  for (const [ch, lastUs] of out.ok) if (truth.get(ch)?.users && viewsOk.get(ch) !== lastUs) out.ok.delete(ch);
  return out;
}

/**
 * The channels a sweep left unverified (most changed while it read them: a sweep takes seconds,
 * and every channel that moved meanwhile is left out), each read on its own: a channel's window is
 * then its own requests and the settle time before them, not the whole sweep. Returns the channels
 * found right with the change they reflect (`ok`), and what was found wrong.
 */
async function recheck({ apiBase, app, pool, settleMs, channels }) {
  const asked = new Map();
  await mapLimit(channels, 16, async (ch) => {
    const atUs = nowUs();
    const presence = ch.startsWith('presence-');
    const one = await restGet(apiBase, app, `/apps/${app.id}/channels/${ch}`, { info: presence ? 'subscription_count,user_count' : 'subscription_count' });
    const users = presence ? (await restGet(apiBase, app, `/apps/${app.id}/channels/${ch}/users`)).users.map((u) => u.id) : undefined;
    asked.set(ch, { atUs, count: one.subscription_count ?? 0, userCount: one.user_count, users });
  });
  const truth = await pool.truth();
  const viewsOk = new Map((await pool.views(settleMs)).ok);
  const out = { ok: new Map(), checked: 0, wrong: 0, skipped: 0, examples: [] };
  const wrong = (what) => {
    out.wrong++;
    if (out.examples.length < 3) out.examples.push(what);
  };
  for (const [ch, a] of asked) {
    const t = truth.get(ch) ?? { n: 0, lastUs: 0 };
    if (t.lastUs > a.atUs - settleMs * 1000) {
      out.skipped++;
      continue;
    }
    out.checked++;
    const found = mismatch(ch, t, a);
    if (found) wrong(found);
    // The clients' own lists not (yet) right at this change: left unverified, not wrong.
    else if (!t.users || viewsOk.get(ch) === t.lastUs) out.ok.set(ch, t.lastUs);
  }
  return out;
}

/** At most this many channels are read one by one after a sweep; more wait for the next sweep. */
const RECHECK_MAX = 2000;

/**
 * Polls until the REST API's counts, member lists and every presence client's own list agree
 * with the clients (or `timeoutMs` passes): { exactAfterMs (since sinceUs), checks, last, trace }.
 * Exact means: a check finds nothing wrong, and every channel that had changed since `sinceUs` (a
 * cut, a client back) by the first check has been found right at that change or a later one, by
 * this check, an earlier one, or a read of that channel alone right after this check.
 */
export async function converge({ dep, app, pool, sinceUs, settleMs, timeoutMs, everyMs = 1000 }) {
  const deadline = Date.now() + timeoutMs;
  const verified = new Map();
  // Each channel changed since sinceUs by the first check (the caller waits for every cut client
  // to be back first), with that change: it must be found right at that change or a later one. The
  // churn after the first check is not the fault's, and chasing it would never end.
  let need;
  let checks = 0;
  let last;
  // How each check went (below, where it is recorded).
  const trace = [];
  while (Date.now() < deadline) {
    const live = dep.live();
    const apiBase = dep.gateways[live[checks % live.length]].apiBase;
    const t = nowUs();
    checks++;
    let unverified = null;
    const pendingNow = () => need.filter(([ch, first]) => (verified.get(ch) ?? 0) < first);
    // [s since the fault, channels wrong (or the error), changed channels not yet verified, ms the check took, an example, the rechecks' last round]
    const record = () =>
      trace.push([
        Math.round((t - sinceUs) / 1e5) / 10,
        last.wrong ?? last.error,
        unverified,
        Math.round((nowUs() - t) / 1000),
        last.examples?.[0],
        last.recheck,
      ]);
    const exact = (atUs) => {
      unverified = 0;
      record();
      return { exactAfterMs: Math.max(0, (atUs - sinceUs) / 1000), checks, last, trace };
    };
    try {
      const r = await compare({ apiBase, app, pool, settleMs });
      for (const [ch, lastUs] of r.ok) verified.set(ch, lastUs);
      need ??= [...r.truth].filter(([, tr]) => tr.lastUs >= sinceUs).map(([ch, tr]) => [ch, tr.lastUs]);
      let pending = pendingNow();
      unverified = pending.length;
      last = { checked: r.checked, wrong: r.wrong, skipped: r.skipped, unverified, viewsChecked: r.viewsChecked, examples: r.examples };
      if (r.wrong === 0 && unverified > 0) last.examples = pending.slice(0, 2).map(([ch]) => ({ ch, unverified: r.truth.get(ch) }));
      if (r.wrong === 0 && unverified === 0 && r.checked > 0) return exact(t);
      // The sweep found nothing wrong: what it could not judge is read again, channel by channel,
      // a few times while the channels keep moving; exact as of the start of the read that verified
      // the last of them, as a sweep is as of its start.
      for (let round = 0; r.wrong === 0 && r.checked > 0 && round < 3 && pending.length > 0 && pending.length <= RECHECK_MAX; round++) {
        if (round > 0) await sleep(everyMs);
        const t2 = nowUs();
        const rc = await recheck({ apiBase, app, pool, settleMs, channels: pending.map(([ch]) => ch) });
        for (const [ch, lastUs] of rc.ok) verified.set(ch, lastUs);
        pending = pendingNow();
        last.recheck = { round, checked: rc.checked, wrong: rc.wrong, skipped: rc.skipped, unverified: pending.length, ms: Math.round((nowUs() - t2) / 1000) };
        if (rc.wrong > 0) {
          last.examples = rc.examples;
          break;
        }
        if (pending.length === 0) return exact(t2);
      }
      unverified = pending.length;
    } catch (err) {
      last = { error: err.message };
    }
    record();
    if (checks % 10 === 0) log(`scale: convergence check ${checks} (${Math.round((nowUs() - t) / 1000)} ms): ${JSON.stringify(last).slice(0, 400)}`);
    if (trace.length > 6) trace.splice(3, 1);
    // A check reads every channel and every member list through one gateway: at 100,000
    // connections it takes seconds, and back to back it would be a load of its own on the cluster.
    await sleep(Math.max(everyMs, (nowUs() - t) / 1000));
  }
  return { exactAfterMs: null, checks, last, trace };
}
