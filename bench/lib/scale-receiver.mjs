// The `scale` scenario's webhook receiver, in a process of its own so that the parent's work never
// delays an arrival time: answers every request 200 and records, per delivery, when it arrived
// (machine-wide µs), X-Herald-Webhook-Id, each event with its X-Herald-Event-Ids id, and whether
// the signature (HMAC-SHA256 of the body with the app secret, X-Pusher-Signature) checked out.
import crypto from 'node:crypto';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { forkedAs, serveParent } from './scale-ipc.mjs';
import { nowUs } from './util.mjs';

export const RECEIVER_MODULE = fileURLToPath(import.meta.url);

function start() {
  /** [{ atUs, webhookId, valid, events: [{ id, name, channel, user }] }] */
  const records = [];
  let server;
  let app;
  serveParent({
    async listen(args) {
      app = args.app;
      server = http.createServer((req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
          const atUs = nowUs();
          const body = Buffer.concat(chunks);
          const expected = crypto.createHmac('sha256', app.secret).update(body).digest('hex');
          const valid = req.headers['x-pusher-key'] === app.key && req.headers['x-pusher-signature'] === expected;
          const ids = String(req.headers['x-herald-event-ids'] ?? '').split(',');
          let events = [];
          try {
            events = JSON.parse(body.toString('utf8')).events ?? [];
          } catch {
            /* not a webhook body: recorded with no events and counted as invalid below */
          }
          records.push({
            atUs,
            webhookId: String(req.headers['x-herald-webhook-id'] ?? ''),
            valid: valid && events.length > 0,
            events: events.map((e, i) => ({ id: ids[i] ?? '', name: e.name, channel: e.channel, user: e.user_id })),
          });
          res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        });
      });
      server.keepAliveTimeout = 60000;
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      return { url: `http://127.0.0.1:${server.address().port}/webhooks` };
    },
    /** The records from index `from` on (the parent keeps what it already has). */
    records: ({ from = 0 }) => records.slice(from),
    count: () => records.length,
  });
}

if (forkedAs(RECEIVER_MODULE)) start();
