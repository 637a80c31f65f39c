import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiContext } from './context.js';
import { batchEvents, triggerEvents } from './events.js';
import { authorize, parseJsonBody } from './signature-check.js';

/**
 * `/apps/<id>/events` or `/apps/<id>/batch_events`, with or without a query; an id with `%` or
 * longer than fastify's parameter limit is left to fastify.
 */
const EVENTS_PATH = /^\/apps\/([^/?%#]{1,100})\/(events|batch_events)(?:\?|$)/;

export interface FastPathOptions {
  bodyLimit: number;
  /** True once the server is closing: fastify then answers 503 itself. */
  closing(): boolean;
  /** The status and body of a refusal or failure, as fastify's error handler answers it. */
  answerError(err: unknown): { status: number; body: object };
}

/**
 * `POST /apps/:appId/events` and `batch_events`, the requests an application sends for every
 * event, answered straight from Node's HTTP server: the same signature check, rate limit,
 * validation, publication and answers as the fastify routes (the same functions), without
 * fastify's routing, hooks, request and reply objects, whose cost per trigger shows in the CPU
 * per delivered message (docs/performance.md, "Why the hot path is shaped as it is"). Returns
 * false, before reading anything, for whatever it does not take: other routes and methods, a
 * closing server, and any unusual framing (no Content-Type, chunked, over the body limit, an
 * encoded or over-long app id); fastify answers those.
 */
export function createTriggerFastPath(ctx: ApiContext, opts: FastPathOptions) {
  const respond = (res: ServerResponse, status: number, body: object) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
    ctx.metrics.apiRequests.inc({ status: String(status) });
  };

  const handle = async (res: ServerResponse, url: string, appId: string, batch: boolean, body: Buffer | undefined) => {
    let answer: object;
    try {
      const { app } = await authorize({ method: 'POST', url, appId, body }, ctx);
      answer = await (batch ? batchEvents : triggerEvents)(ctx, app, parseJsonBody(body));
    } catch (err) {
      const e = opts.answerError(err);
      respond(res, e.status, e.body);
      return;
    }
    respond(res, 200, answer);
  };

  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== 'POST' || opts.closing()) return false;
    const url = req.url;
    if (url === undefined || !url.startsWith('/apps/')) return false;
    const m = EVENTS_PATH.exec(url);
    if (m === null) return false;
    const h = req.headers;
    if (h['content-type'] === undefined || h['transfer-encoding'] !== undefined) return false;
    const length = Number(h['content-length']);
    if (!Number.isInteger(length) || length < 0 || length > opts.bodyLimit) return false;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    // A request aborted mid-body has no one to answer; the server closes its socket.
    req.on('error', () => undefined);
    req.on('end', () => {
      const body = chunks.length === 0 ? undefined : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      handle(res, url, m[1]!, m[2] === 'batch_events', body !== undefined && body.length > 0 ? body : undefined).catch(() => res.destroy());
    });
    return true;
  };
}
