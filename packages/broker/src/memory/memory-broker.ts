import type { Broker, BrokerHandler, ControlCommand, Publication } from '../broker.js';
import type { MemoryHistory } from './memory-history.js';

/**
 * In-process broker for the embedded single node: delivers every publication back to the local
 * handler synchronously. Interest (subscribe/unsubscribe) is tracked only to keep the contract
 * observable in tests; there is no other node to filter for.
 */
export class MemoryBroker implements Broker {
  #handler: BrokerHandler | undefined;
  readonly #interest = new Set<string>();

  constructor(private readonly history?: MemoryHistory) {}

  async start(handler: BrokerHandler): Promise<void> {
    this.#handler = handler;
  }

  async subscribe(appId: string, channel: string): Promise<void> {
    this.#interest.add(`${appId}\n${channel}`);
  }

  async unsubscribe(appId: string, channel: string): Promise<void> {
    this.#interest.delete(`${appId}\n${channel}`);
  }

  /** Channels this node holds interest in (for tests and metrics). */
  get topicCount(): number {
    return this.#interest.size;
  }

  async publish(pub: Publication): Promise<void> {
    if (pub.history !== undefined && this.history !== undefined) {
      // Numbered and kept in the step that delivers it: offsets follow delivery order.
      const frame = this.history.append(pub.appId, pub.channel, pub.history, pub.frame);
      this.#handler?.onPublication({
        appId: pub.appId,
        channel: pub.channel,
        frame,
        ...(pub.exceptSocketId !== undefined ? { exceptSocketId: pub.exceptSocketId } : {}),
      });
      return;
    }
    this.#handler?.onPublication(pub);
  }

  /** Publications are delivered synchronously: everything published before the call has arrived. */
  async sync(): Promise<void> {}

  async publishControl(cmd: ControlCommand): Promise<void> {
    this.#handler?.onControl(cmd);
  }

  async close(): Promise<void> {
    this.#handler = undefined;
    this.#interest.clear();
  }
}
