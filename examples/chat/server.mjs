// Herald chat example: a small fastify app on Herald's Node SDK.
//
//   npm start                          # terminal 1: Herald (writes .herald/credentials.json)
//   node examples/chat/server.mjs      # terminal 2: this app, http://127.0.0.1:8787
//
// What it shows (the webman/push scenario):
// - sign-in by name (signed cookie), the channel auth route at webman's path
//   POST /plugin/webman/push/auth and the user sign-in route POST /pusher/user-auth;
// - server-triggered events through the SDK: `message` and `friendApply` on `user-{uid}`,
//   group messages on `group-{id}`, chat invitations on `private-user-{uid}`, `sendToUser`;
// - client events (`client-typing`, `client-note`) on a private channel shared by two users,
//   `private-chat-{a}-{b}`, which the auth route grants to those two users only;
// - a presence channel `presence-online` (who is online);
// - the webhook receiver at webman's path POST /plugin/webman/push/hook, checked with
//   `api.verifyWebhook`, logging users going online and offline (GET /api/presence-log).
//
// Plain ESM, no build step. `@herald/sdk` is the workspace package (built by `npm install`).

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import { Api, HeraldApiError } from '@herald/sdk';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, '../..');

/** The example's groups: every signed-in user is a member of each. */
export const GROUPS = [{ id: '1', name: 'Lobby' }];

const COOKIE = 'herald_chat';
const MAX_TEXT = 500;

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/**
 * Configuration from the environment. Without PUSH_APP_ID/KEY/SECRET, the credentials `npm start`
 * generated are read from `.herald/credentials.json` (PUSH_CREDENTIALS_FILE, as Herald names it),
 * looked up in the current directory, then at the root of the Herald checkout.
 */
export function loadConfig(env = process.env, cwd = process.cwd()) {
  let app;
  if (env.PUSH_APP_ID || env.PUSH_APP_KEY || env.PUSH_APP_SECRET) {
    if (!env.PUSH_APP_ID || !env.PUSH_APP_KEY || !env.PUSH_APP_SECRET) {
      throw new Error('set PUSH_APP_ID, PUSH_APP_KEY and PUSH_APP_SECRET together');
    }
    app = { id: env.PUSH_APP_ID, key: env.PUSH_APP_KEY, secret: env.PUSH_APP_SECRET, source: 'environment' };
  } else {
    const candidates = env.PUSH_CREDENTIALS_FILE
      ? [resolve(cwd, env.PUSH_CREDENTIALS_FILE)]
      : [resolve(cwd, '.herald/credentials.json'), join(REPO_ROOT, '.herald/credentials.json')];
    const file = candidates.find((f) => existsSync(f));
    if (file === undefined) {
      throw new Error(
        `no Herald credentials: start Herald once with \`npm start\` (it writes ${candidates.join(' or ')}), ` +
          'or set PUSH_APP_ID, PUSH_APP_KEY and PUSH_APP_SECRET',
      );
    }
    const c = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof c.id !== 'string' || typeof c.key !== 'string' || typeof c.secret !== 'string') {
      throw new Error(`${file} does not hold {id, key, secret}`);
    }
    app = { id: c.id, key: c.key, secret: c.secret, source: file };
  }
  const port = Number(env.PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT: ${env.PORT} is not a port`);
  return {
    host: env.HOST ?? '127.0.0.1',
    port,
    apiUrl: (env.HERALD_API_URL ?? 'http://127.0.0.1:3232').replace(/\/+$/, ''),
    wsUrl: (env.HERALD_WS_URL ?? 'ws://127.0.0.1:3131').replace(/\/+$/, ''),
    app,
    // Signs the session cookie. Derived from the app secret unless given, so sessions survive restarts.
    sessionSecret: env.SESSION_SECRET ?? createHmac('sha256', app.secret).update('herald-chat-session').digest('hex'),
  };
}

// ---------------------------------------------------------------------------------------------
// The app
// ---------------------------------------------------------------------------------------------

/**
 * Builds the fastify app (not listening yet). `log(line)` receives the online/offline lines
 * (console.log by default).
 */
export function createChatApp(config, { log = (line) => console.log(line), logger = false } = {}) {
  const api = new Api(config.apiUrl, config.app.key, config.app.secret, { appId: config.app.id });
  const fastify = Fastify({ logger });

  // ---- users and sessions (in memory: a demo, anyone may sign in under any name) ----
  const users = new Map(); // uid -> { uid, name }
  const uidByName = new Map(); // lower-case name -> uid
  let lastUid = 0;
  const register = (uid, name) => {
    users.set(uid, { uid, name });
    uidByName.set(name.toLowerCase(), uid);
    lastUid = Math.max(lastUid, Number(uid));
    return users.get(uid);
  };

  const sign = (payload) => createHmac('sha256', config.sessionSecret).update(payload).digest('base64url');
  const sessionCookie = (user) => {
    const payload = Buffer.from(JSON.stringify({ uid: user.uid, name: user.name })).toString('base64url');
    return `${payload}.${sign(payload)}`;
  };
  /** The signed-in user of a request, or undefined. */
  const currentUser = (req) => {
    const raw = parseCookies(req.headers.cookie)[COOKIE];
    if (!raw) return undefined;
    const [payload, mac] = raw.split('.');
    if (!payload || !mac) return undefined;
    const expected = Buffer.from(sign(payload));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      const { uid, name } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      if (typeof uid !== 'string' || !/^\d{1,9}$/.test(uid) || typeof name !== 'string') return undefined;
      // After a restart the registry is empty: the cookie re-registers its user.
      return users.get(uid) ?? register(uid, name);
    } catch {
      return undefined;
    }
  };

  // ---- presence log, fed by webhooks ----
  const presenceLog = [];
  const recordPresence = (entry) => {
    presenceLog.push(entry);
    if (presenceLog.length > 200) presenceLog.shift();
    const who = entry.name ? `${entry.name} (uid ${entry.uid})` : `uid ${entry.uid}`;
    log(`[${new Date(entry.at).toISOString()}] ${entry.status.padEnd(7)} ${who}  <- ${entry.event} ${entry.channel}`);
  };

  // ---- body parsing: forms (sign-in, push.js auth requests) as well as JSON ----
  fastify.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body)));
  });

  const html = (reply, body) => reply.type('text/html; charset=utf-8').send(body);
  const requireUser = (req, reply) => {
    const user = currentUser(req);
    if (!user) reply.code(403).send({ error: 'sign in first' });
    return user;
  };
  const sdkError = (reply, err) => {
    if (err instanceof HeraldApiError) return reply.code(502).send({ error: `Herald: ${err.message}`, code: err.code, status: err.status });
    throw err;
  };

  // JSON API calls only (a cross-site form cannot send application/json without a CORS preflight).
  fastify.addHook('preHandler', async (req, reply) => {
    if (req.method === 'POST' && req.url.startsWith('/api/') && !String(req.headers['content-type'] ?? '').startsWith('application/json')) {
      return reply.code(415).send({ error: 'application/json expected' });
    }
  });

  // ---- pages ----
  fastify.get('/', async (req, reply) => {
    const user = currentUser(req);
    return html(reply, user ? chatPage(config, user) : signInPage());
  });
  for (const file of ['app.js', 'style.css']) {
    fastify.get(`/${file}`, async (_req, reply) => {
      reply.type(file.endsWith('.js') ? 'application/javascript; charset=utf-8' : 'text/css; charset=utf-8');
      return readFile(join(HERE, 'public', file), 'utf8');
    });
  }

  fastify.post('/signin', async (req, reply) => {
    const name = String(req.body?.name ?? '')
      .trim()
      .replace(/\s+/g, ' ');
    if (name.length < 1 || name.length > 32) return html(reply.code(400), signInPage('A name of 1 to 32 characters, please.'));
    const known = uidByName.get(name.toLowerCase());
    const user = known ? users.get(known) : register(String(lastUid + 1), name);
    reply.header('Set-Cookie', `${COOKIE}=${sessionCookie(user)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=604800`);
    return reply.redirect('/', 303);
  });

  fastify.post('/signout', async (req, reply) => {
    const user = currentUser(req);
    // Closes every connection signed in as this user (all their tabs), through the REST API.
    if (user) await api.terminateUserConnections(user.uid).catch(() => {});
    reply.header('Set-Cookie', `${COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`);
    return reply.redirect('/', 303);
  });

  // ---- channel authorisation, at webman/push's path ----
  // push.js POSTs form-urlencoded `socket_id` and `channel_name` (webman's miniprogram client: JSON).
  fastify.post('/plugin/webman/push/auth', async (req, reply) => {
    const user = requireUser(req, reply);
    if (!user) return reply;
    const socketId = String(req.body?.socket_id ?? '');
    const channel = String(req.body?.channel_name ?? '');
    if (!mayJoin(user, channel)) return reply.code(403).send({ error: `${channel} is not for ${user.name}` });
    const presence = channel.startsWith('presence-') ? { user_id: user.uid, user_info: { name: user.name } } : undefined;
    try {
      return api.authorizeChannel(socketId, channel, presence);
    } catch (err) {
      return reply.code(400).send({ error: err.message }); // a malformed socket id or channel name
    }
  });

  // ---- user sign-in (push.signin()), so that sendToUser and terminateUserConnections reach the user ----
  fastify.post('/pusher/user-auth', async (req, reply) => {
    const user = requireUser(req, reply);
    if (!user) return reply;
    try {
      return api.authenticateUser(String(req.body?.socket_id ?? ''), { id: user.uid, user_info: { name: user.name } });
    } catch (err) {
      return reply.code(400).send({ error: err.message });
    }
  });

  // ---- server-triggered events ----
  const textOf = (body) => {
    const text = String(body?.content ?? '').trim();
    return text.length >= 1 && text.length <= MAX_TEXT ? text : undefined;
  };
  const peerOf = (body, me) => {
    const uid = String(body?.to ?? body?.with ?? '');
    return uid !== me.uid && users.has(uid) ? users.get(uid) : undefined;
  };

  // A direct message: `message` on the recipient's `user-{uid}` channel (the webman/push docs' example),
  // and `sent` to every connection signed in as the sender (their other tabs).
  fastify.post('/api/messages', async (req, reply) => {
    const me = requireUser(req, reply);
    if (!me) return reply;
    const to = peerOf(req.body, me);
    const content = textOf(req.body);
    if (!to || !content) return reply.code(400).send({ error: 'to (a known uid) and content (1-500 characters) expected' });
    const message = { id: randomBytes(6).toString('hex'), from_uid: me.uid, from_name: me.name, to_uid: to.uid, content, at: Date.now() };
    try {
      await api.trigger(`user-${to.uid}`, 'message', message);
      await api.sendToUser(me.uid, 'sent', message);
    } catch (err) {
      return sdkError(reply, err);
    }
    return message;
  });

  fastify.post('/api/friends', async (req, reply) => {
    const me = requireUser(req, reply);
    if (!me) return reply;
    const to = peerOf(req.body, me);
    if (!to) return reply.code(400).send({ error: 'to (a known uid) expected' });
    try {
      await api.trigger(`user-${to.uid}`, 'friendApply', { uid: me.uid, name: me.name });
    } catch (err) {
      return sdkError(reply, err);
    }
    return { ok: true };
  });

  fastify.post('/api/groups/:id/messages', async (req, reply) => {
    const me = requireUser(req, reply);
    if (!me) return reply;
    const group = GROUPS.find((g) => g.id === req.params.id);
    const content = textOf(req.body);
    if (!group || !content) return reply.code(400).send({ error: 'a known group and content (1-500 characters) expected' });
    const message = { id: randomBytes(6).toString('hex'), group_id: group.id, from_uid: me.uid, from_name: me.name, content, at: Date.now() };
    try {
      await api.trigger(`group-${group.id}`, 'message', message);
    } catch (err) {
      return sdkError(reply, err);
    }
    return message;
  });

  // Opening a conversation: the peer is told, on their own private channel, which private channel
  // the two of them share, so that their page subscribes too and client events flow both ways.
  fastify.post('/api/chats', async (req, reply) => {
    const me = requireUser(req, reply);
    if (!me) return reply;
    const peer = peerOf(req.body, me);
    if (!peer) return reply.code(400).send({ error: 'with (a known uid) expected' });
    const channel = chatChannel(me.uid, peer.uid);
    try {
      await api.trigger(`private-user-${peer.uid}`, 'chat-open', { channel, from_uid: me.uid, from_name: me.name });
    } catch (err) {
      return sdkError(reply, err);
    }
    return { channel };
  });

  // ---- webhooks, at webman/push's path ----
  // Herald signs the raw body; the route keeps it as bytes (no JSON parser in this scope).
  fastify.register(async (hooks) => {
    hooks.removeAllContentTypeParsers();
    hooks.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    hooks.post('/plugin/webman/push/hook', async (req, reply) => {
      const verdict = api.verifyWebhook(req.headers, Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
      if (!verdict.valid) return reply.code(401).send(`401 Not authenticated: ${verdict.reason}`);
      for (const event of verdict.events) {
        const entry = presenceChange(event);
        if (entry) recordPresence({ at: Date.now(), ...entry, name: users.get(entry.uid)?.name ?? null });
      }
      return 'OK';
    });
  });

  fastify.get('/api/presence-log', async () => ({ log: presenceLog }));

  fastify.addHook('onClose', async () => api.close());
  return { fastify, api, users, presenceLog };
}

/**
 * Which webhook events mean a user came online or went offline:
 * - Pusher names (Herald's default): `member_added` / `member_removed` on `presence-online`;
 * - webman/push names (a webhook with `"format": "webman"`): `user_added` / `user_removed`;
 * - occupancy of the user's own `user-{uid}` channel, as webman/push's stock hook route read it:
 *   `channel_occupied` / `channel_vacated`, or `channel_added` / `channel_removed`.
 */
export function presenceChange(event) {
  const online = ['member_added', 'user_added', 'channel_occupied', 'channel_added'];
  const offline = ['member_removed', 'user_removed', 'channel_vacated', 'channel_removed'];
  const status = online.includes(event.name) ? 'online' : offline.includes(event.name) ? 'offline' : undefined;
  if (!status) return undefined;
  if (event.channel === 'presence-online' && typeof event.user_id === 'string') {
    return { status, uid: event.user_id, event: event.name, channel: event.channel };
  }
  const m = /^user-(\d+)$/.exec(event.channel ?? '');
  if (m && !('user_id' in event)) return { status, uid: m[1], event: event.name, channel: event.channel };
  return undefined;
}

/** The private channel two users share: `private-chat-{smaller uid}-{larger uid}`. */
export function chatChannel(a, b) {
  const [x, y] = [Number(a), Number(b)].sort((p, q) => p - q);
  return `private-chat-${x}-${y}`;
}

/** The channel rules of the auth route. */
export function mayJoin(user, channel) {
  if (channel === 'presence-online') return true;
  if (channel === `private-user-${user.uid}`) return true;
  const m = /^private-chat-(\d+)-(\d+)$/.exec(channel);
  return m !== null && Number(m[1]) < Number(m[2]) && (m[1] === user.uid || m[2] === user.uid);
}

function parseCookies(header = '') {
  const out = {};
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
// JSON inside <script>: `<` escaped so that no value can close the element.
const scriptJson = (v) => JSON.stringify(v).replace(/</g, '\\u003c');

function signInPage(error = '') {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Herald chat: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/style.css"></head>
<body class="signin">
  <form method="post" action="/signin" class="card" id="signin-form">
    <h1>Herald chat</h1>
    <p>Pick a name. Open a second browser (or a private window) to chat with yourself.</p>
    ${error ? `<p class="error">${escapeHtml(error)}</p>` : ''}
    <label>Name <input name="name" id="name" maxlength="32" required autofocus></label>
    <button type="submit">Sign in</button>
  </form>
</body></html>`;
}

function chatPage(config, user) {
  const boot = { me: user, wsUrl: config.wsUrl, appKey: config.app.key, groups: GROUPS };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Herald chat: ${escapeHtml(user.name)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/style.css"></head>
<body>
  <header>
    <strong>Herald chat</strong>
    <span id="conn" class="conn">connecting</span>
    <span class="spacer"></span>
    <span>Signed in as <b id="me">${escapeHtml(user.name)}</b></span>
    <form method="post" action="/signout"><button type="submit" class="link">Sign out</button></form>
  </header>
  <main>
    <aside>
      <h2>Online <span id="online-count" class="count">0</span></h2>
      <ul id="online"></ul>
      <p class="hint">Click someone to chat.</p>
      <div id="notices"></div>
    </aside>
    <section id="group">
      <h2># <span id="group-name"></span> <small>group-1, server events</small></h2>
      <ul id="group-messages" class="messages"></ul>
      <form id="group-form" class="composer"><input id="group-input" maxlength="500" placeholder="Message the group" autocomplete="off"><button type="submit">Send</button></form>
    </section>
    <section id="direct" class="empty">
      <h2><span id="peer-name">No conversation</span> <small id="peer-channel"></small>
        <button type="button" id="friend-btn" class="link" hidden>Add friend</button></h2>
      <ul id="direct-messages" class="messages"></ul>
      <p id="typing" class="typing"></p>
      <form id="direct-form" class="composer">
        <input id="direct-input" maxlength="500" placeholder="Message" autocomplete="off" disabled>
        <button type="submit" id="send-btn" disabled title="POST /api/messages: the server triggers 'message' on user-{uid}">Send</button>
        <button type="button" id="whisper-btn" disabled title="a client-note client event on the shared private channel; it never reaches the app server">Whisper</button>
      </form>
    </section>
  </main>
  <script>window.CHAT = ${scriptJson(boot)};</script>
  <script src="${escapeHtml(config.apiUrl)}/push.js"></script>
  <script src="/app.js"></script>
</body></html>`;
}

/** Starts the app on config.host:config.port (0 picks a free port); resolves with its URL. */
export async function startChat(config, options) {
  const chat = createChatApp(config, options);
  await chat.fastify.listen({ host: config.host, port: config.port });
  const { port } = chat.fastify.server.address();
  return { ...chat, url: `http://${config.host}:${port}`, close: () => chat.fastify.close() };
}

async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(`chat example: ${err.message}`);
    process.exit(1);
  }
  const chat = await startChat(config);
  const hook = `${chat.url}/plugin/webman/push/hook`;
  console.log(
    [
      'Herald chat example',
      `  open:        ${chat.url}  (twice, in two browsers, to chat)`,
      `  Herald API:  ${config.apiUrl}   WebSocket: ${config.wsUrl}`,
      `  app:         ${config.app.id} (credentials from ${config.app.source})`,
      `  webhooks:    start Herald with PUSH_WEBHOOK_URL=${hook}`,
      '',
    ].join('\n'),
  );
  const stop = () => {
    void chat.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

// Started as `node examples/chat/server.mjs` (not when imported, as the test does).
const isMain = (() => {
  try {
    return pathToFileURL(realpathSync(process.argv[1] ?? '')).href === import.meta.url;
  } catch {
    return false;
  }
})();
if (isMain) await main();
