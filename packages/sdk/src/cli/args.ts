import { parseArgs } from 'node:util';
import type { AppPatch, NewApp } from '../admin-types.js';

export const DEFAULT_URL = 'http://127.0.0.1:3232';

export const HELP = `Usage: npm run apps -- <command> [options]     (or: herald-apps <command> [options])

Manage Herald's apps through the admin API (docs/reference/admin-api.md).

Commands:
  list                                  every app: id, key, enabled, webhooks, maxConnections, version, source
  create [--id ID] [--key KEY] [--secret S] [--webhook URL]... [--set field=value]...
                                        a new app; id, key and secret are generated when not given
  show <id>                             the app, secret included
  update <id> [--set field=value]... [--unset field]... [--webhook URL]... [--if-match N]
                                        change fields; --unset removes an optional field or returns a
                                        limit to its default; --webhook replaces the whole webhook list
  disable <id> [--if-match N]           close the app's sockets (4003) and refuse it until enabled
  enable <id> [--if-match N]
  delete <id> --yes [--if-match N]      delete the app (refused without --yes)
  rotate-secret <id> [--grace-seconds N] [--secret S] [--if-match N]
                                        a new secret; the old one still verifies for N seconds (server default 3600)
  audit [--limit N] [--before SEQ]      the newest changes first, secrets never shown

Values of --set are JSON when they parse as JSON (5, true, ["a"], {"x":1}), strings otherwise:
  --set maxConnections=5 --set allowedOrigins='["https://app.example.com"]' --set webhooks='[{"url":"https://h/x"}]'
--if-match N applies the change only if the app is still at version N (else 409, nothing written).

Options:
  --url URL        the gateway's API origin (default: $HERALD_URL, else ${DEFAULT_URL})
  --token TOKEN    the admin token (default: $PUSH_ADMIN_TOKEN). A token (or a --secret) given as a
                   flag is visible to other users of this machine in the process list: prefer the
                   variable for the token, and let the server generate secrets.
  --json           print the server's JSON instead of tables (a refusal's JSON body goes to stdout too)
  -h, --help       this text

Exit codes: 0 done; 1 the request failed (refused by the server, or no answer); 2 usage error.
`;

/** A mistake in the command line: exit code 2, nothing sent. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type Command =
  | { name: 'list' }
  | { name: 'create'; fields: NewApp }
  | { name: 'show'; id: string }
  | { name: 'update'; id: string; patch: AppPatch; ifMatch?: number }
  | { name: 'disable' | 'enable' | 'delete'; id: string; ifMatch?: number }
  | { name: 'rotate-secret'; id: string; graceSeconds?: number; secret?: string; ifMatch?: number }
  | { name: 'audit'; limit?: number; before?: number };

export type Invocation = { help: true } | { help: false; command: Command; url: string; token: string; json: boolean };

const OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  id: { type: 'string' },
  key: { type: 'string' },
  secret: { type: 'string' },
  webhook: { type: 'string', multiple: true },
  set: { type: 'string', multiple: true },
  unset: { type: 'string', multiple: true },
  'if-match': { type: 'string' },
  'grace-seconds': { type: 'string' },
  limit: { type: 'string' },
  before: { type: 'string' },
  yes: { type: 'boolean' },
} as const;

type OptionName = keyof typeof OPTIONS;

/** Each command's own options and whether it takes an app id; --url, --token, --json and --help go with any. */
const COMMANDS: Record<Command['name'], { id: boolean; options: OptionName[] }> = {
  list: { id: false, options: [] },
  create: { id: false, options: ['id', 'key', 'secret', 'webhook', 'set'] },
  show: { id: true, options: [] },
  update: { id: true, options: ['set', 'unset', 'webhook', 'if-match'] },
  disable: { id: true, options: ['if-match'] },
  enable: { id: true, options: ['if-match'] },
  delete: { id: true, options: ['yes', 'if-match'] },
  'rotate-secret': { id: true, options: ['grace-seconds', 'secret', 'if-match'] },
  audit: { id: false, options: ['limit', 'before'] },
};
const GLOBAL: OptionName[] = ['url', 'token', 'json', 'help'];

const isCommand = (name: string): name is Command['name'] => Object.hasOwn(COMMANDS, name);

/** `--flag N` as a whole number of at least `min`. */
function count(flag: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${flag} must be a whole number of at least ${min}, not ${JSON.stringify(text)}`);
  return n;
}

/** A --set value: JSON when it parses (numbers, booleans, arrays, objects, null), the text itself otherwise. */
function parseValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text; // not JSON: a plain string such as a URL or a name
  }
}

/** Collects fields, refusing one given twice (`--id` and `--set id=`, or `--set` and `--unset`). */
class Fields {
  readonly doc: Record<string, unknown> = {};

  put(field: string, value: unknown, flag: string): void {
    if (Object.hasOwn(this.doc, field)) throw new UsageError(`${field} is given twice (the second time by ${flag})`);
    this.doc[field] = value;
  }

  /** `--set field=value`, split at the first `=`. */
  set(assignments: readonly string[] = []): void {
    for (const a of assignments) {
      const eq = a.indexOf('=');
      if (eq <= 0) throw new UsageError(`--set takes field=value, not ${JSON.stringify(a)}`);
      this.put(a.slice(0, eq), parseValue(a.slice(eq + 1)), '--set');
    }
  }

  /** `--webhook URL` (repeatable) replaces the whole list with these URLs, every event sent. */
  webhooks(urls: readonly string[] | undefined): void {
    if (urls !== undefined)
      this.put(
        'webhooks',
        urls.map((url) => ({ url })),
        '--webhook',
      );
  }
}

/**
 * Reads a command line (`process.argv.slice(2)`) and the environment into what to do.
 * @throws UsageError for anything a person must fix before a request can be sent.
 */
export function parseInvocation(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Invocation {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs names the unknown option or the missing value; its error is the message to show.
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { help: true };
  const [name, ...rest] = positionals;
  if (name === undefined) throw new UsageError('a command is required');
  if (!isCommand(name)) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
  const spec = COMMANDS[name];
  const stray = (Object.keys(values) as OptionName[]).filter((o) => !GLOBAL.includes(o) && !spec.options.includes(o));
  if (stray.length > 0) throw new UsageError(`${name} does not take ${stray.map((o) => `--${o}`).join(', ')}`);
  if (spec.id && rest.length === 0) throw new UsageError(`${name} needs an app id`);
  if (rest.length > (spec.id ? 1 : 0)) throw new UsageError(`unexpected argument ${JSON.stringify(rest[spec.id ? 1 : 0])}`);
  const id = rest[0] ?? '';
  const ifMatch = count('if-match', values['if-match'], 1);

  let command: Command;
  switch (name) {
    case 'list':
      command = { name };
      break;
    case 'create': {
      const fields = new Fields();
      fields.set(values.set);
      fields.webhooks(values.webhook);
      for (const flag of ['id', 'key', 'secret'] as const) if (values[flag] !== undefined) fields.put(flag, values[flag], `--${flag}`);
      command = { name, fields: fields.doc };
      break;
    }
    case 'show':
      command = { name, id };
      break;
    case 'update': {
      const fields = new Fields();
      fields.set(values.set);
      fields.webhooks(values.webhook);
      for (const field of values.unset ?? []) fields.put(field, null, '--unset');
      if (Object.keys(fields.doc).length === 0) throw new UsageError('update needs at least one --set, --unset or --webhook');
      command = { name, id, patch: fields.doc, ...(ifMatch !== undefined ? { ifMatch } : {}) };
      break;
    }
    case 'delete':
      if (values.yes !== true) throw new UsageError(`delete needs --yes: deleting app ${id} closes its connections and cannot be undone`);
      command = { name, id, ...(ifMatch !== undefined ? { ifMatch } : {}) };
      break;
    case 'disable':
    case 'enable':
      command = { name, id, ...(ifMatch !== undefined ? { ifMatch } : {}) };
      break;
    case 'rotate-secret': {
      const graceSeconds = count('grace-seconds', values['grace-seconds'], 0);
      command = {
        name,
        id,
        ...(graceSeconds !== undefined ? { graceSeconds } : {}),
        ...(values.secret !== undefined ? { secret: values.secret } : {}),
        ...(ifMatch !== undefined ? { ifMatch } : {}),
      };
      break;
    }
    case 'audit': {
      const limit = count('limit', values.limit, 1);
      const before = count('before', values.before, 1);
      command = { name, ...(limit !== undefined ? { limit } : {}), ...(before !== undefined ? { before } : {}) };
      break;
    }
  }

  // An empty variable counts as unset, as `HERALD_URL= npm run apps` means "the default".
  const url = values.url ?? (env.HERALD_URL || DEFAULT_URL);
  const token = values.token ?? (env.PUSH_ADMIN_TOKEN || undefined);
  if (token === undefined || token === '') throw new UsageError('no admin token: set PUSH_ADMIN_TOKEN (or pass --token)');
  return { help: false, command, url, token, json: values.json === true };
}
