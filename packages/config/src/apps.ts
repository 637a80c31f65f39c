import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { DEFAULT_LIMITS, WEBHOOK_EVENT_NAMES, type AppLimits, type WebhookEventName } from '@herald/protocol';
import { ConfigError } from './config-error.js';
import { weakSecretReason } from './secret-policy.js';

/** Where one app's webhooks go, and which events; the webhook library (`@herald/webhooks`) delivers to it. */
export interface WebhookTarget {
  url: string;
  /** Event types to send (Pusher names, also for `format: 'webman'` targets); all when absent. */
  events?: WebhookEventName[];
  /** Only channels whose name starts with this. */
  channelPrefix?: string;
  /**
   * `webman` sends webman/push names: channel_added/channel_removed/user_added/user_removed instead of
   * channel_occupied/channel_vacated/member_added/member_removed. Other events keep their Pusher names.
   * @default 'pusher'
   */
  format?: 'pusher' | 'webman';
  /** Sent with every POST; they cannot replace the signature headers, which are set last. */
  headers?: Record<string, string>;
}

/** One tenant: its credentials, switches and limits. Secrets never leave this object in logs. */
export interface App {
  id: string;
  key: string;
  secret: string;
  webhooks: WebhookTarget[];
  enabled: boolean;
  /** Accept `client-*` events on private and presence channels. @default true */
  clientEvents: boolean;
  /** Send `pusher_internal:subscription_count` to subscribers of non-presence channels. @default false */
  subscriptionCountEvents: boolean;
  /** Seconds a cache channel keeps its last event. @default 1800 (Pusher's 30 min) */
  cacheTtlSeconds: number;
  limits: AppLimits;
  /** Origins allowed to open WebSockets (exact, or `*.domain`); undefined: any. */
  allowedOrigins?: string[];
  /** Secrets replaced by a rotation that still verify signatures until `expiresAt` (ms since the epoch). */
  previousSecrets?: { secret: string; expiresAt: number }[];
  /**
   * Message recovery: the last `size` events of each channel (of those whose name starts with one
   * of `channelPrefixes`; all when absent), kept `ttlSeconds`, numbered and replayed to clients
   * that resubscribe with their last position. Absent: off.
   */
  history?: HistoryPolicy;
  /** Small integer used to build uWebSockets.js topic names. */
  index: number;
}

export interface HistoryPolicy {
  size: number;
  ttlSeconds: number;
  channelPrefixes?: string[];
}

/** Bounds of a history: a Lua script trims and reads at most this many entries per channel. */
export const HISTORY_MAX_SIZE = 10_000;
export const HISTORY_MAX_TTL_SECONDS = 7 * 24 * 3600;

const Webhook = z.object({
  url: z
    .string()
    .url()
    .refine((u) => /^https?:\/\//i.test(u), 'must be an http:// or https:// URL'),
  events: z.array(z.enum(WEBHOOK_EVENT_NAMES)).optional(),
  event_types: z.array(z.enum(WEBHOOK_EVENT_NAMES)).optional(),
  channel_prefix: z.string().optional(),
  format: z.enum(['pusher', 'webman']).optional(),
  headers: z.record(z.string(), z.string()).optional(),
});

const Limits = z
  .object({
    maxChannelNameLength: z.number().int().positive(),
    maxEventNameLength: z.number().int().positive(),
    maxEventPayloadBytes: z.number().int().positive(),
    maxChannelsPerConnection: z.number().int().positive(),
    maxChannelsPerTrigger: z.number().int().positive(),
    maxBatchSize: z.number().int().positive(),
    maxPresenceMembers: z.number().int().positive(),
    maxPresenceUserInfoBytes: z.number().int().positive(),
    maxPresenceUserIdLength: z.number().int().positive(),
    maxClientEventsPerSecond: z.number().int().nonnegative(),
    maxConnections: z.number().int().nonnegative(),
    maxApiRequestsPerSecond: z.number().int().nonnegative(),
  })
  .partial();

/** `size` or `ttlSeconds` 0 turns it off, like PUSH_HISTORY_SIZE=0. */
const History = z
  .object({
    size: z.number().int().min(0).max(HISTORY_MAX_SIZE),
    ttlSeconds: z.number().int().min(0).max(HISTORY_MAX_TTL_SECONDS),
    channelPrefixes: z.array(z.string().min(1)).optional(),
  })
  .strict();

const AppFileEntry = z
  .object({
    id: z
      .union([z.string().min(1), z.number().int()])
      .transform(String)
      .refine((id) => /^[A-Za-z0-9_.-]{1,64}$/.test(id), 'app id: 1 to 64 of A-Z a-z 0-9 _ . -'),
    key: z.string().min(1),
    secret: z.string().min(1),
    enabled: z.boolean().default(true),
    webhooks: z.array(Webhook).default([]),
    clientEvents: z.boolean().default(true),
    subscriptionCountEvents: z.boolean().default(false),
    cacheTtlSeconds: z.number().int().positive().default(1800),
    /** Connections (WebSocket upgrades, HTTP sessions) must come from one of these origins (exact, or `*.example.com`); all when absent. */
    allowedOrigins: z.array(z.string().min(1)).optional(),
    history: History.optional(),
  })
  .merge(Limits);

const AppsFile = z.array(AppFileEntry).min(1);

const PreviousSecret = z.object({ secret: z.string().min(1), expiresAt: z.number().int().nonnegative() }).strict();

/**
 * An app as a store keeps it: an apps-file entry (the same fields and rules) plus the secrets a
 * rotation replaced. Unknown fields are refused, so a typo is an error rather than ignored.
 */
const AppDocumentSchema = AppFileEntry.extend({ previousSecrets: z.array(PreviousSecret).optional() }).strict();

/** One stored app: an apps-file entry with its defaults filled in. */
export type AppDocument = z.output<typeof AppDocumentSchema>;

/** A field that failed validation (`webhooks.0.url`), and why. */
export interface FieldIssue {
  field: string;
  message: string;
}

export type DocumentCheck = { ok: true; doc: AppDocument } | { ok: false; issues: FieldIssue[] };

/** Validates an app document by the apps file's rules (secret strength included); every bad field is named. */
export function validateAppDocument(raw: unknown): DocumentCheck {
  const parsed = AppDocumentSchema.safeParse(raw);
  const issues: FieldIssue[] = parsed.success
    ? []
    : parsed.error.issues.map((i) => ({
        field: i.path.join('.') || (i.code === 'unrecognized_keys' ? i.keys.join(', ') : '(body)'),
        message: i.code === 'unrecognized_keys' ? `unknown field${i.keys.length > 1 ? 's' : ''}: ${i.keys.join(', ')}` : i.message,
      }));
  const secret = (raw as { secret?: unknown } | null)?.secret;
  const weak = typeof secret === 'string' && secret !== '' ? weakSecretReason(secret) : undefined;
  if (weak !== undefined) issues.push({ field: 'secret', message: `the secret ${weak}` });
  if (!parsed.success || issues.length > 0) return { ok: false, issues };
  return { ok: true, doc: parsed.data };
}

/** The in-memory app of a stored document. */
export function appFromDocument(doc: AppDocument, index = 0): App {
  const app = toApp(doc, index);
  if (doc.previousSecrets !== undefined && doc.previousSecrets.length > 0) app.previousSecrets = doc.previousSecrets.map((p) => ({ ...p }));
  return app;
}

/** The stored document of an app (the reverse of appFromDocument, defaults written out). */
export function documentFromApp(app: App): AppDocument {
  const limits: Partial<AppLimits> = {};
  for (const name of Object.keys(DEFAULT_LIMITS) as (keyof AppLimits)[]) if (app.limits[name] !== DEFAULT_LIMITS[name]) limits[name] = app.limits[name];
  return {
    id: app.id,
    key: app.key,
    secret: app.secret,
    enabled: app.enabled,
    webhooks: app.webhooks.map((w) => ({
      url: w.url,
      ...(w.events ? { events: w.events } : {}),
      ...(w.channelPrefix !== undefined ? { channel_prefix: w.channelPrefix } : {}),
      ...(w.format ? { format: w.format } : {}),
      ...(w.headers ? { headers: w.headers } : {}),
    })),
    clientEvents: app.clientEvents,
    subscriptionCountEvents: app.subscriptionCountEvents,
    cacheTtlSeconds: app.cacheTtlSeconds,
    ...(app.allowedOrigins ? { allowedOrigins: app.allowedOrigins } : {}),
    ...(app.history ? { history: { ...app.history } } : {}),
    ...limits,
    ...(app.previousSecrets && app.previousSecrets.length > 0 ? { previousSecrets: app.previousSecrets } : {}),
  };
}

function toTarget(w: z.infer<typeof Webhook>): WebhookTarget {
  const events = w.events ?? w.event_types;
  return {
    url: w.url,
    ...(events ? { events } : {}),
    ...(w.channel_prefix ? { channelPrefix: w.channel_prefix } : {}),
    ...(w.format ? { format: w.format } : {}),
    ...(w.headers ? { headers: w.headers } : {}),
  };
}

function toApp(e: z.infer<typeof AppFileEntry>, index: number): App {
  const limits: AppLimits = { ...DEFAULT_LIMITS };
  for (const name of Object.keys(DEFAULT_LIMITS) as (keyof AppLimits)[]) {
    const v = e[name];
    if (typeof v === 'number') limits[name] = v;
  }
  return {
    id: e.id,
    key: e.key,
    secret: e.secret,
    enabled: e.enabled,
    webhooks: e.webhooks.map(toTarget),
    clientEvents: e.clientEvents,
    subscriptionCountEvents: e.subscriptionCountEvents,
    cacheTtlSeconds: e.cacheTtlSeconds,
    limits,
    ...(e.allowedOrigins ? { allowedOrigins: e.allowedOrigins } : {}),
    ...historyOf(e.history),
    index,
  };
}

/** The policy of a document's `history`; none when off (absent, or a size or TTL of 0). */
function historyOf(h: z.infer<typeof History> | undefined): { history?: HistoryPolicy } {
  if (h === undefined || h.size === 0 || h.ttlSeconds === 0) return {};
  return { history: { size: h.size, ttlSeconds: h.ttlSeconds, ...(h.channelPrefixes ? { channelPrefixes: [...h.channelPrefixes] } : {}) } };
}

/** Parses the PUSH_APPS_FILE content; throws ConfigError naming every problem. */
export function parseAppsJson(text: string, source = 'PUSH_APPS_FILE'): App[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${source}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = AppsFile.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${source}[${i.path.join('.')}]: ${i.message}`);
    throw new ConfigError(`${source} is invalid:\n${lines.join('\n')}`);
  }
  const apps = parsed.data.map(toApp);
  const weak = apps.flatMap((a) => {
    const reason = weakSecretReason(a.secret);
    return reason === undefined ? [] : [`  ${source}: the secret of app ${a.id} ${reason}`];
  });
  if (weak.length > 0) throw new ConfigError(`${source} is invalid:\n${weak.join('\n')}`);
  const dup = (f: (a: App) => string) => apps.map(f).find((v, i, all) => all.indexOf(v) !== i);
  const dupId = dup((a) => a.id);
  if (dupId !== undefined) throw new ConfigError(`${source}: app id ${dupId} appears twice`);
  const dupKey = dup((a) => a.key);
  if (dupKey !== undefined) throw new ConfigError(`${source}: app key ${dupKey} appears twice`);
  return apps;
}

export interface DefaultAppInput {
  id?: string | undefined;
  key?: string | undefined;
  secret?: string | undefined;
  webhookUrl?: string | undefined;
}

export function createApp(id: string, key: string, secret: string, webhookUrl?: string, history?: { size: number; ttlSeconds: number }): App {
  return toApp(AppFileEntry.parse({ id, key, secret, webhooks: webhookUrl ? [{ url: webhookUrl }] : [], ...(history ? { history } : {}) }), 0);
}

/**
 * Embedded mode's credentials when none are configured: random ones, generated on first start and
 * kept in a git-ignored file so they survive restarts. Never a well-known secret.
 */
export function loadOrCreateCredentials(file: string): { id: string; key: string; secret: string; created: boolean } {
  if (existsSync(file)) {
    const c = JSON.parse(readFileSync(file, 'utf8')) as { id?: unknown; key?: unknown; secret?: unknown };
    if (typeof c.id === 'string' && typeof c.key === 'string' && typeof c.secret === 'string') {
      return { id: c.id, key: c.key, secret: c.secret, created: false };
    }
    throw new ConfigError(`${file} is corrupt: delete it to generate new credentials`);
  }
  const creds = {
    id: String(randomInt(100_000, 1_000_000)),
    key: randomBytes(10).toString('hex'),
    secret: randomBytes(16).toString('hex'),
  };
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(creds, null, 2) + '\n', { mode: 0o600 });
  return { ...creds, created: true };
}

/** What one change of the app set did; `before` is the app's state before an update (a copy). */
export interface AppChanges {
  added: App[];
  updated: { app: App; before: App }[];
  removed: App[];
}

const snapshot = (a: App): App => ({ ...a, limits: { ...a.limits } });

/** Whether two apps differ in anything the store holds (the index is local). */
function sameApp(a: App, b: App): boolean {
  return JSON.stringify(documentFromApp(a)) === JSON.stringify(documentFromApp(b));
}

/**
 * The apps this process serves, by id and by key. Changes arrive while sockets are open: an
 * updated app keeps its object (sockets and requests hold it), its fields replaced in place, so
 * new limits, switches and secrets apply to what is already connected; listeners hear of every
 * change to act on the rest (close a disabled app's sockets, and so on).
 */
export class AppRegistry {
  readonly #byId = new Map<string, App>();
  readonly #byKey = new Map<string, App>();
  readonly #listeners: ((changes: AppChanges) => void)[] = [];
  /** Indexes are never reused: a deleted app's topics must not match a new app's. */
  #nextIndex = 0;

  constructor(apps: readonly App[]) {
    for (const a of apps) this.#add(a);
  }

  /** Every app, in the order they were added. */
  get apps(): App[] {
    return [...this.#byId.values()];
  }

  get size(): number {
    return this.#byId.size;
  }

  byId(id: string): App | undefined {
    return this.#byId.get(id);
  }

  byKey(key: string): App | undefined {
    return this.#byKey.get(key);
  }

  /** Called after every change that did something. */
  onChange(listener: (changes: AppChanges) => void): void {
    this.#listeners.push(listener);
  }

  /** Makes the set exactly `next`: apps missing from it are removed. */
  replaceAll(next: readonly App[]): AppChanges {
    const changes: AppChanges = { added: [], updated: [], removed: [] };
    const ids = new Set(next.map((a) => a.id));
    for (const a of this.#byId.values()) if (!ids.has(a.id)) changes.removed.push(this.#remove(a));
    for (const a of next) this.#put(a, changes);
    this.#emit(changes);
    return changes;
  }

  /** Adds or updates one app (`undefined` with `id`: removes it). */
  set(id: string, app: App | undefined): AppChanges {
    const changes: AppChanges = { added: [], updated: [], removed: [] };
    const existing = this.#byId.get(id);
    if (app === undefined) {
      if (existing !== undefined) changes.removed.push(this.#remove(existing));
    } else {
      this.#put(app, changes);
    }
    this.#emit(changes);
    return changes;
  }

  #put(app: App, changes: AppChanges): void {
    const existing = this.#byId.get(app.id);
    if (existing === undefined) {
      // A key still held by another id (it was moved in the store): that app is gone.
      const holder = this.#byKey.get(app.key);
      if (holder !== undefined) changes.removed.push(this.#remove(holder));
      changes.added.push(this.#add(app));
      return;
    }
    if (sameApp(existing, app)) return;
    const before = snapshot(existing);
    if (existing.key !== app.key) this.#byKey.delete(existing.key);
    delete existing.allowedOrigins;
    delete existing.previousSecrets;
    delete existing.history;
    Object.assign(existing, app, { index: existing.index });
    this.#byKey.set(existing.key, existing);
    changes.updated.push({ app: existing, before });
  }

  #add(app: App): App {
    app.index = this.#nextIndex++;
    this.#byId.set(app.id, app);
    this.#byKey.set(app.key, app);
    return app;
  }

  #remove(app: App): App {
    this.#byId.delete(app.id);
    if (this.#byKey.get(app.key) === app) this.#byKey.delete(app.key);
    return app;
  }

  #emit(changes: AppChanges): void {
    if (changes.added.length + changes.updated.length + changes.removed.length === 0) return;
    for (const l of this.#listeners) l(changes);
  }
}
