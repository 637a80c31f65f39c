import { globalObject } from './global-object.js';

/**
 * A listener. `this` is the context given to `on`, else `globalThis` (webman's push.js calls
 * listeners with `this = context || window`).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- listeners receive whatever the server sent
export type Listener = (this: any, ...args: any[]) => void;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- as for Listener
export type GlobalListener = (event: string, ...args: any[]) => void;

interface Binding {
  fn: Listener;
  ctx: unknown;
}

/**
 * A listener that throws must not break the client's own bookkeeping (a channel half-subscribed,
 * a frame half-dispatched): the error is re-thrown on a fresh stack so it still reaches the
 * console and `window.onerror`.
 */
function reportListenerError(err: unknown): void {
  setTimeout(() => {
    throw err;
  }, 0);
}

/**
 * The event API of webman's push.js (`on`, `off`, `emit`, global listeners) with pusher-js's
 * names as aliases (`bind`, `unbind`, `bind_global`, `unbind_global`).
 */
export class Emitter {
  private readonly listeners = new Map<string, Binding[]>();
  private globalListeners: GlobalListener[] = [];

  /** Calls `fn` (with `this = ctx`) every time `event` is emitted. */
  on(event: string, fn: Listener, ctx?: unknown): this {
    const list = this.listeners.get(event);
    if (list) list.push({ fn, ctx });
    else this.listeners.set(event, [{ fn, ctx }]);
    return this;
  }

  /**
   * Removes listeners, as push.js does: no arguments removes all; an event alone removes all of
   * that event; `fn` and/or `ctx` remove only the matching ones (of every event when `event` is
   * omitted).
   */
  off(event?: string | null, fn?: Listener | null, ctx?: unknown): this {
    if (!event && !fn && ctx === undefined) {
      this.listeners.clear();
      return this;
    }
    const names = event ? [event] : [...this.listeners.keys()];
    for (const name of names) {
      if (!fn && ctx === undefined) {
        this.listeners.delete(name);
        continue;
      }
      const kept = (this.listeners.get(name) ?? []).filter((b) => (fn && b.fn !== fn) || (ctx !== undefined && b.ctx !== ctx));
      if (kept.length > 0) this.listeners.set(name, kept);
      else this.listeners.delete(name);
    }
    return this;
  }

  /** Calls every listener of `event`, global listeners first. Listener errors are re-thrown asynchronously. */
  emit(event: string, ...args: unknown[]): this {
    for (const g of [...this.globalListeners]) {
      try {
        g(event, ...args);
      } catch (err) {
        reportListenerError(err);
      }
    }
    const list = this.listeners.get(event);
    if (!list) return this;
    for (const b of [...list]) {
      try {
        b.fn.apply(b.ctx ?? globalObject(), args);
      } catch (err) {
        reportListenerError(err);
      }
    }
    return this;
  }

  /** Calls `fn(event, ...args)` for every event. */
  on_global(fn: GlobalListener): this {
    this.globalListeners.push(fn);
    return this;
  }

  /** Removes one global listener, or all of them without an argument. */
  off_global(fn?: GlobalListener): this {
    this.globalListeners = fn ? this.globalListeners.filter((g) => g !== fn) : [];
    return this;
  }

  /** Number of listeners bound to `event` (global listeners not counted). */
  listenerCount(event: string): number {
    return this.listeners.get(event)?.length ?? 0;
  }

  /** pusher-js alias of `on`. */
  bind(event: string, fn: Listener, ctx?: unknown): this {
    return this.on(event, fn, ctx);
  }

  /** pusher-js alias of `off`. */
  unbind(event?: string | null, fn?: Listener | null, ctx?: unknown): this {
    return this.off(event, fn, ctx);
  }

  /** pusher-js alias of `on_global`. */
  bind_global(fn: GlobalListener): this {
    return this.on_global(fn);
  }

  /** pusher-js alias of `off_global`. */
  unbind_global(fn?: GlobalListener): this {
    return this.off_global(fn);
  }
}
