/**
 * What the client needs from its runtime. The same core runs in browsers (`WebSocket`, `fetch`,
 * `XMLHttpRequest`) and in uni-app (`uni.connectSocket`, `uni.request`); a custom `Platform` can
 * be passed as the `platform` option (tests, other mini-program runtimes).
 */

export interface SocketHandlers {
  onOpen(): void;
  /** Text frames only; binary frames are not part of the protocol. */
  onMessage(text: string): void;
  onClose(event: { code: number; reason: string }): void;
  onError(error: unknown): void;
}

/** One WebSocket. After `close()` the adapter must not call any handler again. */
export interface Socket {
  send(text: string): void;
  close(code?: number, reason?: string): void;
}

export interface Transport {
  /** Opens a socket; failures are reported through `onError` / `onClose`, not thrown. */
  connect(url: string, handlers: SocketHandlers): Socket;
}

export interface HttpRequest {
  url: string;
  method: 'POST';
  headers: Record<string, string>;
  body: string;
}

export interface HttpResponse {
  status: number;
  body: string;
}

/** Resolves with any HTTP status; rejects only when no response arrived (network error). */
export type HttpClient = (req: HttpRequest) => Promise<HttpResponse>;

/**
 * How the answer to an `HttpStreamClient` request is reported, in this order: `onStatus` once,
 * `onText` zero or more times, then `onEnd` or `onError` once. Nothing is called after `abort()`.
 */
export interface HttpStreamHandlers {
  /** The status line arrived. */
  onStatus(status: number): void;
  /** The next piece of the body, as text. */
  onText(text: string): void;
  /** The body is complete. */
  onEnd(): void;
  /** No answer, or the connection broke before the body's end. */
  onError(error: unknown): void;
}

/** The HTTP of the fallback transports (http-socket.ts): POSTs that can be aborted, their body read as it arrives. */
export interface HttpStreamClient {
  /**
   * True when `onText` is called as the server writes (xhr_streaming needs it); false when the
   * whole body comes in one `onText` at its end, which allows long polling only.
   */
  readonly streaming: boolean;
  request(req: HttpRequest, handlers: HttpStreamHandlers): { abort(): void };
}

/** Online/offline signal of the device, so the client neither spins while offline nor waits once back. */
export interface NetworkMonitor {
  isOnline(): boolean;
  /** Returns the unsubscribe function. */
  subscribe(listener: (online: boolean) => void): () => void;
}

export interface Platform {
  transport: Transport;
  http: HttpClient;
  /** Optional: without it the client uses WebSocket only (no HTTP fallback transports). */
  httpStream?: HttpStreamClient;
  /** Optional: without it the client assumes it is always online. */
  network?: NetworkMonitor;
}

export const alwaysOnline: NetworkMonitor = {
  isOnline: () => true,
  subscribe: () => () => undefined,
};
