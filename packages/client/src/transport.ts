/**
 * What the client needs from its runtime. The same core runs in browsers (`WebSocket`, `fetch`)
 * and in uni-app (`uni.connectSocket`, `uni.request`); a custom `Platform` can be passed as the
 * `platform` option (tests, other mini-program runtimes).
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

/** Online/offline signal of the device, so the client neither spins while offline nor waits once back. */
export interface NetworkMonitor {
  isOnline(): boolean;
  /** Returns the unsubscribe function. */
  subscribe(listener: (online: boolean) => void): () => void;
}

export interface Platform {
  transport: Transport;
  http: HttpClient;
  /** Optional: without it the client assumes it is always online. */
  network?: NetworkMonitor;
}

export const alwaysOnline: NetworkMonitor = {
  isOnline: () => true,
  subscribe: () => () => undefined,
};
