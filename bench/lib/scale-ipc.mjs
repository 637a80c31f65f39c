// The `scale` scenario's helper processes (load generator, publisher, webhook receiver): forked
// from the parent, driven by request/reply over IPC, and the machine-wide clock they share.
import { fork } from 'node:child_process';

const CHILD_FLAG = '--scale-child';

/**
 * Whether this process was forked to run `modulePath`: the parent imports each child module (for
 * its path and constants), and that import must start nothing.
 */
export const forkedAs = (modulePath) => process.argv[1] === modulePath && process.argv.includes(CHILD_FLAG);

/** Parent side: one forked module, `call(cmd, args)` answered by its handler of that name. */
export class Child {
  constructor(name, modulePath, { heapMb = 4096 } = {}) {
    this.name = name;
    // HERALD_BENCH_HELPER_NODE_ARGS, e.g. '--cpu-prof --cpu-prof-dir=DIR': to see where the load generator spends its time.
    const extra = process.env.HERALD_BENCH_HELPER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    this.child = fork(modulePath, [CHILD_FLAG], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [`--max-old-space-size=${heapMb}`, ...extra] });
    this.pid = this.child.pid;
    this.nextId = 1;
    this.pending = new Map();
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    this.ready = new Promise((resolve, reject) => {
      this.child.once('exit', (code) => reject(new Error(`${name} exited before it was ready (${code})`)));
      this.child.on('message', (m) => {
        if (m.type === 'ready') resolve(this);
        else if (m.type === 'reply') this.#settle(m);
      });
    });
    this.child.on('exit', (code, signal) => {
      for (const p of this.pending.values()) p.reject(new Error(`${name} exited (${code ?? signal}) during ${p.cmd}`));
      this.pending.clear();
    });
  }

  #settle(m) {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.error) p.reject(new Error(`${this.name} ${p.cmd}: ${m.error}`));
    else p.resolve(m.result);
  }

  call(cmd, args = {}, timeoutMs = 300000) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, cmd });
      this.child.send({ cmd, id, args });
    });
  }

  async stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await this.call('exit', {}, 5000).catch(() => {});
    const gone = await Promise.race([this.exited, new Promise((r) => setTimeout(() => r(null), 3000))]);
    if (gone === null) this.child.kill('SIGKILL');
  }
}

/** Child side: answers every command with its handler's result (or error), and says it is ready. */
export function serveParent(handlers) {
  const all = {
    ...handlers,
    exit: () => {
      setTimeout(() => process.exit(0), 10);
      return { ok: true };
    },
  };
  process.on('message', (m) => {
    void (async () => {
      try {
        const h = all[m.cmd];
        if (!h) throw new Error(`unknown command ${m.cmd}`);
        process.send({ type: 'reply', id: m.id, result: await h(m.args ?? {}) });
      } catch (err) {
        process.send({ type: 'reply', id: m.id, error: err?.stack ?? String(err) });
      }
    })();
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ type: 'ready' });
}
