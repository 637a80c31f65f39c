// The ceiling: a bare uWebSockets.js fan-out server speaking just enough of the Pusher protocol
// (connection_established, subscribe/unsubscribe, ping/pong, presence member lists, client events)
// and an HTTP trigger endpoint, all on one uWS port. No signature checks, no limits, no
// validation: what a Pusher-compatible server could at best do on this machine.
// Usage: PORT=nnnn node bench/ceiling.mjs
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const uWS = require('uWebSockets.js');

const port = Number(process.env.PORT || 6001);
const prefix = `${Math.floor(Math.random() * 1e9)}`;
let nextSocket = 1;
/** presence channel -> Map(userId -> { count, info }) */
const presence = new Map();
const decoder = new TextDecoder();

const app = uWS.App();

function memberJoin(ws, channel, channelData) {
  let cd;
  try {
    cd = JSON.parse(channelData);
  } catch {
    cd = { user_id: ws.getUserData().socketId };
  }
  const uid = String(cd.user_id);
  let members = presence.get(channel);
  if (!members) presence.set(channel, (members = new Map()));
  const m = members.get(uid);
  if (m) m.count++;
  else members.set(uid, { count: 1, info: cd.user_info });
  ws.getUserData().presence.set(channel, uid);
  const hash = {};
  for (const [id, v] of members) hash[id] = v.info ?? null;
  ws.subscribe(channel);
  ws.send(
    JSON.stringify({
      event: 'pusher_internal:subscription_succeeded',
      channel,
      data: JSON.stringify({ presence: { ids: [...members.keys()], hash, count: members.size } }),
    }),
  );
  if (!m)
    ws.publish(channel, JSON.stringify({ event: 'pusher_internal:member_added', channel, data: JSON.stringify({ user_id: uid, user_info: cd.user_info }) }));
}

function memberLeave(ws, channel) {
  const ud = ws.getUserData();
  const uid = ud.presence.get(channel);
  if (uid === undefined) return;
  ud.presence.delete(channel);
  const members = presence.get(channel);
  const m = members?.get(uid);
  if (!m) return;
  if (--m.count === 0) {
    members.delete(uid);
    if (members.size === 0) presence.delete(channel);
    // app.publish: the leaving socket is already unsubscribed (or closing), so it is not a recipient.
    app.publish(channel, JSON.stringify({ event: 'pusher_internal:member_removed', channel, data: JSON.stringify({ user_id: uid }) }));
  }
}

app.ws('/app/:key', {
  compression: uWS.DISABLED,
  maxPayloadLength: 64 * 1024,
  maxBackpressure: 1024 * 1024,
  idleTimeout: 0,
  upgrade: (res, req, context) => {
    res.upgrade(
      { socketId: `${prefix}.${nextSocket++}`, presence: new Map() },
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      context,
    );
  },
  open: (ws) => {
    ws.send(JSON.stringify({ event: 'pusher:connection_established', data: JSON.stringify({ socket_id: ws.getUserData().socketId, activity_timeout: 120 }) }));
  },
  message: (ws, message) => {
    let msg;
    try {
      msg = JSON.parse(decoder.decode(message));
    } catch {
      return;
    }
    const ev = msg.event;
    if (ev === 'pusher:subscribe') {
      const channel = msg.data?.channel;
      if (typeof channel !== 'string') return;
      if (channel.startsWith('presence-')) return memberJoin(ws, channel, msg.data.channel_data);
      ws.subscribe(channel);
      ws.send(JSON.stringify({ event: 'pusher_internal:subscription_succeeded', channel, data: '{}' }));
    } else if (ev === 'pusher:unsubscribe') {
      const channel = msg.data?.channel;
      if (typeof channel !== 'string') return;
      ws.unsubscribe(channel);
      if (channel.startsWith('presence-')) memberLeave(ws, channel);
    } else if (ev === 'pusher:ping') {
      ws.send('{"event":"pusher:pong","data":"{}"}');
    } else if (typeof ev === 'string' && ev.startsWith('client-') && typeof msg.channel === 'string') {
      const out = { event: ev, channel: msg.channel, data: msg.data };
      const uid = ws.getUserData().presence.get(msg.channel);
      if (uid !== undefined) out.user_id = uid;
      ws.publish(msg.channel, JSON.stringify(out)); // uWS publish skips the sender
    }
  },
  close: (ws) => {
    for (const channel of [...ws.getUserData().presence.keys()]) memberLeave(ws, channel);
  },
});

app.get('/ready', (res) => {
  res.end('{"ready":true}');
});

app.post('/apps/:id/events', (res) => {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  const chunks = [];
  res.onData((chunk, isLast) => {
    chunks.push(Buffer.from(chunk));
    if (!isLast) return;
    if (aborted) return;
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString());
    } catch {
      res.cork(() => res.writeStatus('400 Bad Request').end('{}'));
      return;
    }
    const channels = body.channels ?? (body.channel ? [body.channel] : []);
    res.cork(() => {
      for (const channel of channels) {
        app.publish(channel, JSON.stringify({ event: body.name, channel, data: body.data }));
      }
      res.writeHeader('Content-Type', 'application/json').end('{}');
    });
  });
});

app.any('/*', (res) => {
  res.writeStatus('404 Not Found').end('');
});

app.listen('127.0.0.1', port, (token) => {
  if (!token) {
    process.stderr.write(`ceiling: cannot listen on ${port}\n`);
    process.exit(1);
  }
  process.stdout.write(`ceiling listening on 127.0.0.1:${port}\n`);
});

for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
