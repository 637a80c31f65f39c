import type { Broker } from '@herald/broker';
import { encodeSubscriptionCount } from '@herald/protocol';

const BIG_CHANNEL = 100;
const BIG_CHANNEL_INTERVAL_MS = 5000;

/**
 * `pusher_internal:subscription_count` for apps that enable it: sent to a channel's subscribers when
 * its count changes; for channels over 100 subscribers at most every 5 s (Pusher's rule), with a
 * trailing send so the last count always arrives.
 */
export class SubscriptionCounter {
  readonly #last = new Map<string, number>();
  readonly #timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly broker: Broker,
    private readonly now: () => number = Date.now,
  ) {}

  changed(appId: string, channel: string, count: number, read: () => Promise<number>): void {
    const k = `${appId}\n${channel}`;
    if (count <= BIG_CHANNEL) {
      this.#send(appId, channel, count);
      this.#last.delete(k);
      return;
    }
    if (this.#timers.has(k)) return;
    const wait = (this.#last.get(k) ?? 0) + BIG_CHANNEL_INTERVAL_MS - this.now();
    if (wait <= 0) {
      this.#last.set(k, this.now());
      this.#send(appId, channel, count);
      return;
    }
    const t = setTimeout(() => {
      this.#timers.delete(k);
      this.#last.set(k, this.now());
      read().then(
        (n) => (n > 0 ? this.#send(appId, channel, n) : undefined),
        () => undefined /* count unavailable (broker down): the next change sends it */,
      );
    }, wait);
    t.unref();
    this.#timers.set(k, t);
  }

  #send(appId: string, channel: string, count: number) {
    void this.broker
      .publish({ appId, channel, frame: encodeSubscriptionCount(channel, count) })
      .catch(() => undefined /* at-most-once, like every publication */);
  }

  close() {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }
}
