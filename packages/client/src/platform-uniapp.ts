import { globalObject } from './global-object.js';
import type { HttpClient, HttpStreamClient, NetworkMonitor, Platform, Socket, SocketHandlers, Transport } from './transport.js';

/** The part of uni-app's `SocketTask` the client uses. */
export interface UniSocketTask {
  onOpen(cb: (res?: unknown) => void): void;
  onMessage(cb: (res: { data: unknown }) => void): void;
  onClose(cb: (res: { code?: number; reason?: string }) => void): void;
  onError(cb: (err: unknown) => void): void;
  send(options: { data: string; fail?: (err: unknown) => void }): void;
  close(options: { code?: number; reason?: string }): void;
}

/** The part of uni-app's `RequestTask` the client uses (returned when a callback is given). */
export interface UniRequestTask {
  abort?(): void;
}

/** The part of the `uni` global the client uses. */
export interface UniApi {
  connectSocket(options: { url: string; complete?: () => void; fail?: (err: unknown) => void }): UniSocketTask;
  request(options: {
    url: string;
    method: 'POST';
    header: Record<string, string>;
    data: string;
    dataType?: string;
    responseType?: string;
    timeout?: number;
    success: (res: { statusCode: number; data: unknown }) => void;
    fail: (err: unknown) => void;
  }): UniRequestTask | undefined;
  onNetworkStatusChange?(cb: (res: { isConnected: boolean }) => void): void;
  offNetworkStatusChange?(cb: (res: { isConnected: boolean }) => void): void;
  getNetworkType?(options: { success: (res: { networkType: string }) => void }): void;
}

declare const uni: UniApi | undefined;

/** The `uni` global, looked up when a client is created (it does not exist when this module loads in tests). */
function globalUni(): UniApi {
  const u = typeof uni !== 'undefined' ? uni : (globalObject().uni as UniApi | undefined);
  if (!u) throw new TypeError('push-uniapp: the `uni` global is missing (not running in uni-app?)');
  return u;
}

/**
 * `uni.connectSocket` → `SocketTask`. Each client gets its own task, unlike webman's
 * push-uniapp.js, which uses the app-wide `uni.onSocket*` API and so allows only one socket.
 */
function createUniTransport(u: UniApi): Transport {
  return {
    connect(url: string, h: SocketHandlers): Socket {
      let closed = false;
      // uni-app returns a SocketTask only when at least one of success/fail/complete is given.
      const task = u.connectSocket({
        url,
        complete: () => undefined,
        fail: (err) => {
          if (!closed) h.onError(err);
        },
      });
      task.onOpen(() => {
        if (!closed) h.onOpen();
      });
      task.onMessage((res) => {
        if (!closed && typeof res.data === 'string') h.onMessage(res.data);
      });
      task.onClose((res) => {
        if (closed) return;
        closed = true;
        h.onClose({ code: res?.code ?? 1006, reason: res?.reason ?? '' });
      });
      task.onError((err) => {
        if (!closed) h.onError(err);
      });
      return {
        send: (data) =>
          task.send({
            data,
            fail: (err) => {
              if (!closed) h.onError(err);
            },
          }),
        close: (code, reason) => {
          closed = true;
          try {
            task.close({ code: code ?? 1000, reason: reason ?? '' });
          } catch {
            /* the task is already closed: nothing left to release */
          }
        },
      };
    },
  };
}

/** A `uni.request` answer's body as text, whatever the platform's JSON auto-parsing did. */
function bodyText(data: unknown): string {
  if (typeof data === 'string') return data;
  return data === undefined || data === null ? '' : JSON.stringify(data);
}

/** `uni.request`, with the body kept as text. */
function createUniHttp(u: UniApi): HttpClient {
  return (req) =>
    new Promise((resolve, reject) => {
      u.request({
        url: req.url,
        method: req.method,
        header: req.headers,
        data: req.body,
        dataType: 'text',
        responseType: 'text',
        success: (res) => resolve({ status: res.statusCode, body: bodyText(res.data) }),
        fail: (err) => reject(err instanceof Error ? err : new Error(`uni.request failed: ${JSON.stringify(err)}`)),
      });
    });
}

/**
 * The HTTP fallback over `uni.request`, which hands over a body only once complete: long polling
 * only (`xhr_polling`), no streaming.
 */
function createUniHttpStream(u: UniApi): HttpStreamClient {
  return {
    streaming: false,
    request(req, h) {
      let done = false;
      const task = u.request({
        url: req.url,
        method: req.method,
        header: req.headers,
        data: req.body,
        dataType: 'text',
        responseType: 'text',
        // The server holds a poll up to 25 s; the platforms' default (60 s) is above it, but an
        // app's manifest may set a lower one for every request.
        timeout: 60_000,
        success: (res) => {
          if (done) return;
          done = true;
          h.onStatus(res.statusCode);
          const text = bodyText(res.data);
          if (text !== '') h.onText(text);
          h.onEnd();
        },
        fail: (err) => {
          // An abort() ends in `fail` too: ignored, as promised.
          if (done) return;
          done = true;
          h.onError(err);
        },
      });
      return {
        abort: () => {
          done = true;
          task?.abort?.();
        },
      };
    },
  };
}

/** `uni.onNetworkStatusChange`, seeded with `uni.getNetworkType`. */
function createUniNetwork(u: UniApi): NetworkMonitor {
  let online = true;
  const listeners = new Set<(online: boolean) => void>();
  let registered = false;
  const onChange = (res: { isConnected: boolean }) => {
    online = res.isConnected !== false;
    for (const l of [...listeners]) l(online);
  };
  return {
    isOnline: () => online,
    subscribe(listener) {
      listeners.add(listener);
      if (!registered && u.onNetworkStatusChange) {
        registered = true;
        u.onNetworkStatusChange(onChange);
        u.getNetworkType?.({
          success: (res) => {
            const now = res.networkType !== 'none';
            if (now !== online) onChange({ isConnected: now });
          },
        });
      }
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && registered && u.offNetworkStatusChange) {
          registered = false;
          u.offNetworkStatusChange(onChange);
        }
      };
    },
  };
}

export function createUniPlatform(u: UniApi = globalUni()): Platform {
  return { transport: createUniTransport(u), http: createUniHttp(u), httpStream: createUniHttpStream(u), network: createUniNetwork(u) };
}
