import WebSocket from 'ws';
import type { HttpStreamClient, Platform } from '@herald/client';
import { rawDataText } from './raw-client.js';

/**
 * The HTTP fallback transports' requests through Node's `fetch`, the body read as it arrives (so
 * `xhr_streaming` works as in a browser).
 */
const fetchStream: HttpStreamClient = {
  streaming: true,
  request(req, h) {
    const abort = new AbortController();
    void (async () => {
      try {
        const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, signal: abort.signal });
        if (abort.signal.aborted) return;
        h.onStatus(res.status);
        const decoder = new TextDecoder();
        const reader = res.body?.getReader();
        for (;;) {
          const next = reader ? await reader.read() : { done: true as const };
          if (abort.signal.aborted) return;
          if (next.done) break;
          const text = decoder.decode(next.value, { stream: true });
          if (text !== '') h.onText(text);
        }
        const rest = decoder.decode();
        if (abort.signal.aborted) return;
        if (rest !== '') h.onText(rest);
        h.onEnd();
      } catch (err) {
        // An abort rejects the read in progress: the client asked for it and hears nothing more.
        if (!abort.signal.aborted) h.onError(err);
      }
    })();
    return { abort: () => abort.abort() };
  },
};

/**
 * push.js's platform on Node 20 (no global WebSocket): sockets through `ws`; auth requests and the
 * HTTP fallback transports (`xhr_streaming`, `xhr_polling`) through `fetch`.
 */
export const wsPushPlatform: Platform = {
  transport: {
    connect(url, h) {
      const ws = new WebSocket(url);
      ws.on('open', () => h.onOpen());
      ws.on('message', (raw, isBinary) => {
        if (!isBinary) h.onMessage(rawDataText(raw));
      });
      ws.on('close', (code, reason) => h.onClose({ code, reason: reason.toString() }));
      ws.on('error', (e) => h.onError(e));
      return {
        send: (text) => ws.send(text),
        close: (code, reason) => {
          ws.removeAllListeners();
          ws.on('error', () => undefined);
          ws.close(code, reason);
        },
      };
    },
  },
  http: async (req) => {
    const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body });
    return { status: res.status, body: await res.text() };
  },
  httpStream: fetchStream,
};
