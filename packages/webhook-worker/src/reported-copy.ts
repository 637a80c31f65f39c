import type { ReportedState } from '@herald/broker';

/**
 * The worker's own copy of what the webhooks last reported per channel (occupied, members, and the
 * sequence of decided events), updated from every check's result. Redis is the reference; this copy
 * exists for when Redis loses it (a restart without persistence, a failover to a replica that missed
 * the last writes): written back, the next checks compare with what really was reported, so no
 * second `channel_occupied` or `member_added` goes out and a channel that emptied meanwhile gets its
 * `channel_vacated`. Every worker checks every channel it hears about, so each holds the whole set.
 * Channels reported away entirely (not occupied, no members) are dropped.
 */
export class ReportedCopy {
  readonly #byChannel = new Map<string, { appId: string; channel: string; state: ReportedState }>();

  /** Records a check's result; an older one (lower seq) than the copy's is ignored. */
  update(appId: string, channel: string, state: ReportedState): void {
    const k = `${appId}\n${channel}`;
    const cur = this.#byChannel.get(k);
    if (cur !== undefined && cur.state.seq > state.seq) return;
    if (!state.occupied && state.members.length === 0) this.#byChannel.delete(k);
    else this.#byChannel.set(k, { appId, channel, state });
  }

  entries(): IterableIterator<{ appId: string; channel: string; state: ReportedState }> {
    return this.#byChannel.values();
  }

  get size(): number {
    return this.#byChannel.size;
  }
}
