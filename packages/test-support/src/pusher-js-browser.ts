import type { Browser, BrowserContext, Page } from 'playwright-core';
import { watchPage, type WebServer } from './browser.js';
import { repoPath } from './repo.js';

/**
 * pusher-js's own browser build (node_modules/pusher-js/dist/web/pusher.js) in a page of `web`'s
 * origin, each client in a fresh browser context (its own storage: pusher-js remembers the
 * transport that last worked there). The page records the connection's states and errors and
 * each subscribed channel's events; the methods read them.
 */

type Members = { each(f: (m: { id: string }) => void): void };

export interface PusherJsPageEvent {
  channel: string;
  event: string;
  data: unknown;
}

/** What the page keeps on `window` (see pageHtml). */
interface PageGlobals {
  p: {
    connection: {
      state: string;
      socket_id: string;
      connection: { transport: { name: string; socket?: { session?: string } } } | null;
    };
    channel(name: string): { trigger(event: string, data: unknown): boolean; members: Members };
    disconnect(): void;
  };
  h: { states: string[]; errors: unknown[]; events: PusherJsPageEvent[]; subscribed: Record<string, number> };
  sub(name: string): Promise<void>;
}

function pageHtml(pusherJsUrl: string, key: string, options: Record<string, unknown>): string {
  return `<!doctype html><meta charset="utf-8"><title>pusher-js</title>
<script src="${pusherJsUrl}"></script>
<script>
  window.h = { states: [], errors: [], events: [], subscribed: {} };
  window.p = new Pusher(${JSON.stringify(key)}, ${JSON.stringify(options)});
  p.connection.bind('state_change', function (s) { h.states.push(s.current); });
  p.connection.bind('error', function (e) { h.errors.push(JSON.parse(JSON.stringify(e))); });
  // Resolves at the first pusher:subscription_succeeded; later ones (a resubscription) are counted.
  window.sub = function (name) {
    return new Promise(function (resolve, reject) {
      var ch = p.subscribe(name);
      h.subscribed[name] = 0;
      ch.bind('pusher:subscription_succeeded', function () { h.subscribed[name]++; resolve(); });
      ch.bind('pusher:subscription_error', function (e) { reject(new Error(name + ': ' + JSON.stringify(e))); });
      ch.bind_global(function (event, data) { h.events.push({ channel: name, event: event, data: data }); });
    });
  };
</script>`;
}

export class PusherJsPage {
  private constructor(
    private readonly context: BrowserContext,
    private readonly page: Page,
    private readonly watched: ReturnType<typeof watchPage>,
  ) {}

  /** `new Pusher(key, options)` in a new page (`cluster: ''` and `forceTLS: false` unless given). */
  static async open(browser: Browser, web: WebServer, key: string, options: Record<string, unknown>): Promise<PusherJsPage> {
    const pusherJsUrl = `${web.mount('pusher-js', repoPath('node_modules', 'pusher-js', 'dist', 'web'))}pusher.js`;
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const c = new PusherJsPage(context, page, watchPage(page));
      await page.goto(web.page(pageHtml(pusherJsUrl, key, { cluster: '', forceTLS: false, ...options })));
      return c;
    } catch (err) {
      await context.close();
      throw err;
    }
  }

  /** The page's answer; a failure carries the page's errors and console. */
  #wrap<T>(evaluation: Promise<T>): Promise<T> {
    return evaluation.catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\npage errors: ${this.watched.pageErrors.join('\n')}\nconsole: ${this.watched.console.join('\n')}`);
    });
  }

  state(): Promise<string> {
    return this.#wrap(this.page.evaluate(() => (window as unknown as PageGlobals).p.connection.state));
  }

  socketId(): Promise<string> {
    return this.#wrap(this.page.evaluate(() => (window as unknown as PageGlobals).p.connection.socket_id));
  }

  /** The transport of the open connection (`xhr_streaming`, `xhr_polling`, `ws`). */
  transport(): Promise<string | undefined> {
    return this.#wrap(this.page.evaluate(() => (window as unknown as PageGlobals).p.connection.connection?.transport.name));
  }

  /** `{server}/{session}` of an HTTP connection: the path segment of its requests. */
  session(): Promise<string | undefined> {
    return this.#wrap(this.page.evaluate(() => (window as unknown as PageGlobals).p.connection.connection?.transport.socket?.session));
  }

  states(): Promise<string[]> {
    return this.#wrap(this.page.evaluate(() => (window as unknown as PageGlobals).h.states));
  }

  errors(): Promise<unknown[]> {
    return this.#wrap(this.page.evaluate(() => (window as unknown as PageGlobals).h.errors));
  }

  /** Resolves once subscribed (rejects on pusher:subscription_error). */
  subscribe(channel: string): Promise<void> {
    return this.#wrap(this.page.evaluate((n) => (window as unknown as PageGlobals).sub(n), channel));
  }

  /** How many times pusher:subscription_succeeded came for `channel` (again after each reconnect). */
  subscribed(channel: string): Promise<number> {
    return this.#wrap(this.page.evaluate((n) => (window as unknown as PageGlobals).h.subscribed[n] ?? 0, channel));
  }

  events(event: string): Promise<PusherJsPageEvent[]> {
    return this.#wrap(this.page.evaluate((e) => (window as unknown as PageGlobals).h.events.filter((x) => x.event === e), event));
  }

  memberIds(channel: string): Promise<string[]> {
    return this.#wrap(
      this.page.evaluate((n) => {
        const ids: string[] = [];
        (window as unknown as PageGlobals).p.channel(n).members.each((m) => ids.push(m.id));
        return ids.sort();
      }, channel),
    );
  }

  trigger(channel: string, event: string, data: unknown): Promise<boolean> {
    return this.#wrap(this.page.evaluate(([n, e, d]) => (window as unknown as PageGlobals).p.channel(n).trigger(e, d), [channel, event, data] as const));
  }

  async close(): Promise<void> {
    await this.#wrap(this.page.evaluate(() => (window as unknown as PageGlobals).p.disconnect())).catch(() => undefined);
    await this.context.close();
  }
}
