import WebSocket from 'ws';
import type { Platform } from '@herald/client';
import { rawDataText } from './raw-client.js';

/** push.js's platform on Node 20 (no global WebSocket): sockets through `ws`, no HTTP (tests use `authorizer` or public channels). */
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
  http: () => Promise.reject(new Error('no HTTP in these tests')),
};
