/** The transports, by pusher-js's names (its `enabledTransports`). */
export const TransportName = {
  WebSocket: 'ws',
  /** One HTTP response kept open, frames written to it as they come. */
  Streaming: 'xhr_streaming',
  /** Long polling: each HTTP response ends at the first frames. */
  Polling: 'xhr_polling',
} as const;
export type TransportName = (typeof TransportName)[keyof typeof TransportName];

export const ALL_TRANSPORTS: readonly TransportName[] = [TransportName.WebSocket, TransportName.Streaming, TransportName.Polling];

/**
 * A client that fell back tries the first transport again on its first new connection this long
 * after it fell back: the network (or the proxy refusing WebSockets) may have changed.
 */
export const FIRST_TRANSPORT_RETRY_MS = 5 * 60_000;

/** Failed opens in a row after which a WebSocket is given up for the next transport. */
const WEBSOCKET_FAILURES = 2;

/** What follows an attempt that failed to open. */
export const AfterFailure = {
  /** Same transport again, after the back-off. */
  Retry: 'retry',
  /** The next transport, at once: it is not the one that failed. */
  Next: 'next',
  /** The first transport again, after the back-off (the server looks down, or every transport failed). */
  First: 'first',
} as const;
export type AfterFailure = (typeof AfterFailure)[keyof typeof AfterFailure];

/**
 * Which transport the next connection attempt uses (docs/reference/client-fallback.md):
 *
 * - A WebSocket that failed to open twice in a row, or once by timing out, is followed by the next
 *   transport: a proxy that refuses or swallows the upgrade fails every attempt the same way.
 * - An HTTP transport that timed out (the server took the request but nothing came back: a proxy
 *   buffering the stream) is followed by the next transport. One that failed otherwise (no answer,
 *   an error status) says the server is unreachable, which says nothing against WebSocket: the
 *   first transport is tried again.
 * - After the last transport comes the first.
 * - The transport a connection was established over is remembered: a new connection (a reconnect,
 *   or `connect()` after `disconnect()`) starts there, except that one that is not the first is
 *   forgotten `FIRST_TRANSPORT_RETRY_MS` after it was adopted.
 */
export class TransportSelector {
  private index = 0;
  private failures = 0;
  private remembered: { index: number; since: number } | undefined;

  constructor(
    readonly names: readonly TransportName[],
    private readonly now: () => number = () => Date.now(),
  ) {
    if (names.length === 0) throw new TypeError('TransportSelector needs at least one transport');
  }

  /** The transport of the next (or current) attempt. */
  get current(): TransportName {
    return this.names[this.index]!;
  }

  /** A new connection begins: from the remembered transport while that memory holds, else from the first. */
  start(): void {
    this.failures = 0;
    const r = this.remembered;
    if (r !== undefined && r.index !== 0 && this.now() - r.since >= FIRST_TRANSPORT_RETRY_MS) this.remembered = undefined;
    this.index = this.remembered?.index ?? 0;
  }

  /** `connection_established` arrived over the current transport. */
  established(): void {
    this.failures = 0;
    // Only a change of transport restarts the clock: reconnecting over the fallback keeps its age.
    if (this.remembered?.index !== this.index) this.remembered = { index: this.index, since: this.now() };
  }

  /** The server answered over the current transport (a Pusher close code) before the handshake: the transport works. */
  reached(): void {
    this.failures = 0;
  }

  /** The current attempt ended before `connection_established`, not by the server: moves on as the rules say. */
  failed(timedOut: boolean): AfterFailure {
    const isWebSocket = this.current === TransportName.WebSocket;
    this.failures++;
    const giveUp = timedOut || (isWebSocket ? this.failures >= WEBSOCKET_FAILURES : false);
    if (!giveUp && isWebSocket) return AfterFailure.Retry;
    this.failures = 0;
    if (giveUp && this.index + 1 < this.names.length) {
      this.index++;
      return AfterFailure.Next;
    }
    this.index = 0;
    return AfterFailure.First;
  }
}
