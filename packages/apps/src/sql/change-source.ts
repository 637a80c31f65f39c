/**
 * A store's one source of change notices (a LISTEN connection, a poller), shared by every watcher
 * of the store: started by the first watch(), which fails (and may be retried) if it cannot start;
 * stopped with the store.
 */
export class ChangeSource<S> {
  readonly #watchers = new Set<(ids: string[] | undefined) => void>();
  #source: Promise<S> | undefined;

  constructor(
    private readonly start: (notify: (ids: string[] | undefined) => void) => Promise<S>,
    private readonly stopSource: (source: S) => Promise<void>,
  ) {}

  async watch(onChange: (ids: string[] | undefined) => void): Promise<void> {
    this.#watchers.add(onChange);
    this.#source ??= this.start((ids) => {
      for (const w of this.#watchers) w(ids);
    });
    try {
      await this.#source;
    } catch (err) {
      this.#watchers.delete(onChange);
      this.#source = undefined;
      throw err;
    }
  }

  async stop(): Promise<void> {
    const source = await this.#source?.catch(() => undefined);
    if (source !== undefined) await this.stopSource(source);
  }
}
