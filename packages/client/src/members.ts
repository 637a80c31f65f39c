/** One member of a presence channel. */
export interface Member {
  id: string;
  info: unknown;
}

/**
 * The members of a presence channel (pusher-js's `Members`): filled by
 * `pusher_internal:subscription_succeeded`, kept current by member_added / member_removed,
 * emptied when the connection drops.
 */
export class Members {
  /** user id → user_info (null when the member has none). */
  members: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  count = 0;
  /** This connection's user id (from the auth response's channel_data, or the signed-in user). */
  myID: string | undefined = undefined;
  me: Member | undefined = undefined;

  /** Calls `cb(member)` for every member. */
  each(cb: (member: Member) => void): void {
    for (const id of Object.keys(this.members)) cb({ id, info: this.members[id] });
  }

  get(id: string | number): Member | null {
    const key = String(id);
    return Object.prototype.hasOwnProperty.call(this.members, key) ? { id: key, info: this.members[key] } : null;
  }

  /** @internal */
  setMyID(id: string | undefined): void {
    this.myID = id;
  }

  /** @internal `data.presence` of subscription_succeeded: `{ids, hash, count}`. */
  onSubscriptionSucceeded(presence: unknown): void {
    this.members = Object.create(null) as Record<string, unknown>;
    const hash = (presence as { hash?: unknown } | undefined)?.hash;
    if (typeof hash === 'object' && hash !== null) {
      for (const [id, info] of Object.entries(hash)) this.members[id] = info ?? null;
    }
    this.count = Object.keys(this.members).length;
    this.me = this.myID !== undefined ? (this.get(this.myID) ?? undefined) : undefined;
  }

  /** @internal Returns the member when it is new (a second connection of a present user is not). */
  add(data: unknown): Member | undefined {
    const { user_id, user_info } = (data ?? {}) as { user_id?: unknown; user_info?: unknown };
    if (typeof user_id !== 'string' && typeof user_id !== 'number') return undefined;
    const id = String(user_id);
    const isNew = !Object.prototype.hasOwnProperty.call(this.members, id);
    this.members[id] = user_info ?? null;
    if (isNew) this.count++;
    return isNew ? { id, info: this.members[id] } : undefined;
  }

  /** @internal Returns the removed member, if it was present. */
  remove(data: unknown): Member | undefined {
    const { user_id } = (data ?? {}) as { user_id?: unknown };
    if (typeof user_id !== 'string' && typeof user_id !== 'number') return undefined;
    const member = this.get(user_id);
    if (!member) return undefined;
    delete this.members[member.id];
    this.count--;
    return member;
  }

  /** @internal */
  reset(): void {
    this.members = Object.create(null) as Record<string, unknown>;
    this.count = 0;
    this.me = undefined;
  }
}
