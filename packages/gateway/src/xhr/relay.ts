import type { SessionLink } from '@herald/broker';
import type { ResponseReceiver } from './response-receiver.js';
import type { Receiver, ReceiverMode } from './xhr-session.js';

/**
 * Messages between gateways about HTTP sessions, sent to one node (SessionLink.sendToNode). The
 * node holding a session is its owner; a node that gets one of its requests relays it:
 * - `in`: frames the client sent (an xhr_send), to the owner;
 * - `attach` / `detach`: a receive request began / ended at node `n`, as receiver `r`;
 * - `out`: lines for receiver `r` (`e`: the last), from the owner; the first answers `attach`;
 * - `alive`: the owner still runs (sent while it has receivers at the node), so a relay whose
 *   owner died ends its request and the client reconnects.
 */
export type RelayMessage =
  | { t: 'in'; s: string; f: string[] }
  | { t: 'attach'; s: string; n: string; r: string; m: ReceiverMode }
  | { t: 'detach'; s: string; r: string }
  | { t: 'out'; r: string; l: string; e?: 1 }
  | { t: 'alive'; n: string };

export function parseRelayMessage(text: string): RelayMessage | undefined {
  try {
    const m = JSON.parse(text) as RelayMessage;
    return typeof m === 'object' && m !== null && typeof m.t === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}

/** On the owner: a receive request another node serves; lines travel to it through the link. */
export class RemoteReceiver implements Receiver {
  constructor(
    readonly mode: ReceiverMode,
    readonly node: string,
    readonly id: string,
    private readonly session: string,
    private readonly link: SessionLink,
    private readonly onEnd: (r: RemoteReceiver) => void,
    private readonly onError: (err: Error) => void,
  ) {}

  get sessionId(): string {
    return this.session;
  }

  #send(m: RelayMessage): void {
    this.link.sendToNode(this.node, JSON.stringify(m)).catch(this.onError);
  }

  /** Tells the serving node its request is taken (before any line). */
  ack(): void {
    this.#send({ t: 'out', r: this.id, l: '' });
  }

  write(lines: string): boolean {
    this.#send({ t: 'out', r: this.id, l: lines });
    return true;
  }

  end(lines: string): void {
    this.#send({ t: 'out', r: this.id, l: lines, e: 1 });
    this.onEnd(this);
  }
}

/** On a node that is not the owner: a receive request it serves for the owner's session. */
export interface RelayedRequest {
  receiver: ResponseReceiver;
  owner: string;
  session: string;
  /** When the owner was last heard of (an `out` or `alive`); silence past the watchdog ends it. */
  heardAt: number;
}
