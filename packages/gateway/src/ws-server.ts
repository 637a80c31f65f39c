import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_socket_context_t } from 'uWebSockets.js';
import type { Connections, PendingSocketData } from './connections.js';
import { countLimit, type Metrics } from './metrics.js';
import { socketLog } from './socket-data.js';
import type { UwsModule } from './uws.js';

export interface WsServerOptions {
  /** Seconds of client silence before the server pings it (also announced to clients). */
  activityTimeout: number;
  maxBackpressure: number;
  maxPayloadLength: number;
}

/** The close reason uWebSockets.js gives (with 1006) when a message is over maxPayloadLength. */
const TOO_BIG = 'Received too big message';

/** The app key of a connection URL `.../app/{key}[/...]`; '' when the path has none. */
function appKeyOf(url: string): string {
  const at = url.lastIndexOf('/app/');
  return at === -1 ? '' : (url.slice(at + 5).split('/')[0] ?? '');
}

/**
 * Wires WebSockets onto the protocol (connections.ts): upgrade (admission), open, message (text
 * frames; binary ones are ignored as Pusher does), close.
 */
export function serveWebSockets(uwsApp: TemplatedApp, uws: UwsModule, conns: Connections, metrics: Metrics, opts: WsServerOptions): void {
  uwsApp.ws<PendingSocketData>('/*', {
    // Idle sockets are the sweep's job (it closes with 4201); uWS's timeout is only a backstop.
    idleTimeout: Math.min(960, Math.ceil((opts.activityTimeout * 1000 + 2 * conns.pongWaitMs + conns.sweepMs) / 1000 / 4) * 4 + 8),
    sendPingsAutomatically: true,
    maxPayloadLength: opts.maxPayloadLength,
    // Over maxBackpressure uWebSockets.js skips a socket's messages (memory stays bounded); the
    // backpressure sweep closes such a client with 4100 well before it gets there.
    maxBackpressure: opts.maxBackpressure,
    closeOnBackpressureLimit: 0,
    compression: uws.DISABLED,
    upgrade: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => {
      // Everything needed from req is copied now: req is invalid after this function returns.
      const data = conns.admit(appKeyOf(req.getUrl()), req.getQuery('protocol') ?? '', req.getHeader('origin'), 'ws');
      res.upgrade(data, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
    },
    open: (ws: WebSocket<PendingSocketData>) => {
      ws.getUserData().ws = ws;
      conns.opened(ws);
    },
    message: (ws: WebSocket<PendingSocketData>, message: ArrayBuffer, isBinary: boolean) => {
      const data = ws.getUserData();
      if (isBinary) {
        // Binary frames are not part of the protocol; Pusher ignores them.
        conns.seen(data);
        metrics.messagesIn.inc();
        socketLog(data).debug('binary frame ignored');
        return;
      }
      // The ArrayBuffer is neutered when this callback returns: decode (copy) it now.
      conns.received(data, Buffer.from(message).toString('utf8'));
    },
    pong: (ws: WebSocket<PendingSocketData>) => conns.seen(ws.getUserData()),
    drain: () => undefined,
    close: (ws: WebSocket<PendingSocketData>, code: number, message: ArrayBuffer) => {
      const reason = Buffer.from(message).toString('utf8');
      // uWebSockets.js cuts a socket whose message is over maxPayloadLength: 1006 and this reason.
      if (code === 1006 && reason === TOO_BIG) countLimit(metrics, 'frame_size');
      conns.closed(ws, code, reason);
    },
  });
}
