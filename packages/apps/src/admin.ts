import { randomBytes, randomInt } from 'node:crypto';
import { withoutUserinfo } from '@herald/broker';
import { documentFromApp, validateAppDocument, type App, type AppDocument, type FieldIssue } from '@herald/config';
import type { AppCatalog, CatalogLog } from './catalog.js';
import { AppExistsError, AppNotFoundError, AppVersionConflictError, ReadOnlyStoreError, type AuditAction, type AuditEntry, type StoredApp } from './store.js';

/** A body whose fields break the rules; `issues` names each. */
export class AppValidationError extends Error {
  constructor(readonly issues: FieldIssue[]) {
    super(issues.map((i) => `${i.field}: ${i.message}`).join('; '));
  }
}

/** An app as the admin API shows it: its document, the secrets a rotation replaced without their values, and its bookkeeping. */
export type AppView = Omit<AppDocument, 'previousSecrets' | 'secret'> & {
  secret?: string;
  previousSecrets: { expiresAt: string }[];
  version: number;
  createdAt: string;
  updatedAt: string;
  source: 'store' | 'environment';
};

/** Fields a body may not set: the store keeps them. */
const BOOKKEEPING = ['version', 'createdAt', 'updatedAt', 'previousSecrets', 'source'] as const;
const MAX_GRACE_SECONDS = 7 * 24 * 3600;
const DEFAULT_GRACE_SECONDS = 3600;
/** Rotated-out secrets kept at most (the newest), whatever their grace. */
const MAX_PREVIOUS_SECRETS = 5;
/** Attempts of a change made against the version read, when another change came in between. */
const CAS_ATTEMPTS = 10;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What an audit entry may show of changed fields: never a secret, nor credentials in webhook URLs or header values. */
function auditable(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (name === 'secret') out[name] = '(changed)';
    else if (name === 'webhooks' && Array.isArray(value)) {
      out[name] = value.map((w: unknown) =>
        isObject(w)
          ? {
              ...w,
              ...(typeof w.url === 'string' ? { url: withoutUserinfo(w.url) } : {}),
              ...(isObject(w.headers) ? { headers: Object.fromEntries(Object.keys(w.headers).map((h) => [h, '(hidden)'])) } : {}),
            }
          : w,
      );
    } else out[name] = value;
  }
  return out;
}

/**
 * The rules of a change made through the admin API: what a body may set, generated credentials,
 * merging a patch, rotation with a grace period, the audit entry. Writes go to the catalog's store;
 * this node then reads the app again at once (the others on the store's notification).
 */
export class AppAdmin {
  constructor(
    private readonly catalog: AppCatalog,
    private readonly pinned: readonly App[],
    /** Every change is logged here too (what the audit entry holds: never a secret). */
    private readonly log: Pick<CatalogLog, 'info'> = { info: () => undefined },
  ) {}

  get storeInfo(): { kind: string; readOnly: string | null } {
    return { kind: this.catalog.store.kind, readOnly: this.catalog.store.readOnly ?? null };
  }

  async list(): Promise<AppView[]> {
    const stored = await this.catalog.store.list();
    const pinnedIds = new Set(this.pinned.map((p) => p.id));
    return [...this.pinned.map((p) => this.#pinnedView(p)), ...stored.filter((s) => !pinnedIds.has(s.doc.id)).map((s) => view(s, 'store'))].map(
      ({ secret: _secret, ...rest }) => rest,
    );
  }

  async get(id: string): Promise<AppView> {
    const pinned = this.pinned.find((p) => p.id === id);
    if (pinned !== undefined) return this.#pinnedView(pinned);
    const stored = await this.catalog.store.get(id);
    if (stored === undefined) throw new AppNotFoundError(id);
    return view(stored, 'store');
  }

  async create(body: unknown, actor: string): Promise<AppView> {
    if (!isObject(body)) throw new AppValidationError([{ field: '(body)', message: 'must be a JSON object' }]);
    this.#writable();
    rejectFields(body, BOOKKEEPING, 'is kept by the server');
    const generatedId = body.id === undefined;
    for (let attempt = 0; ; attempt++) {
      const doc = validated({
        ...body,
        id: body.id ?? String(randomInt(1_000_000, 10_000_000)),
        key: body.key ?? randomBytes(10).toString('hex'),
        secret: body.secret ?? randomBytes(16).toString('hex'),
      });
      const taken = this.pinned.find((p) => p.id === doc.id || p.key === doc.key);
      if (taken !== undefined) throw new AppExistsError(taken.id === doc.id ? 'id' : 'key', taken.id === doc.id ? doc.id : doc.key);
      try {
        const audit = { action: 'create' as const, appId: doc.id, actor, changes: auditable(withoutDefaults(doc, body)) };
        const stored = await this.catalog.store.create(doc, audit);
        this.log.info({ ...audit, version: stored.version }, 'app changed');
        await this.catalog.refresh(doc.id);
        return view(stored, 'store');
      } catch (err) {
        // A generated id that happens to be taken is drawn again.
        if (!(err instanceof AppExistsError && err.field === 'id' && generatedId && attempt < 5)) throw err;
      }
    }
  }

  /** Applies a partial change: fields replace, `null` removes an optional field (a limit returns to its default). */
  async update(id: string, body: unknown, ifMatch: number | undefined, actor: string): Promise<AppView> {
    if (!isObject(body)) throw new AppValidationError([{ field: '(body)', message: 'must be a JSON object' }]);
    rejectFields(body, BOOKKEEPING, 'is kept by the server');
    rejectFields(body, ['id', 'key'], 'cannot be changed (create another app)');
    rejectFields(body, ['secret'], 'changes by rotation: POST /admin/v1/apps/{id}/rotate-secret');
    return this.#change(id, ifMatch, actor, 'update', (doc) => {
      const next: Record<string, unknown> = { ...doc };
      for (const [name, value] of Object.entries(body)) {
        if (value === null) delete next[name];
        else next[name] = value;
      }
      return { doc: validated(next), changes: body };
    });
  }

  /** A new secret (generated unless given) signs from now on; the old one verifies for `graceSeconds` more. */
  async rotateSecret(id: string, body: unknown, ifMatch: number | undefined, actor: string): Promise<AppView> {
    const b = body === undefined || body === null ? {} : body;
    if (!isObject(b)) throw new AppValidationError([{ field: '(body)', message: 'must be a JSON object' }]);
    const issues: FieldIssue[] = [];
    for (const name of Object.keys(b)) if (name !== 'graceSeconds' && name !== 'secret') issues.push({ field: name, message: 'unknown field' });
    const grace = b.graceSeconds ?? DEFAULT_GRACE_SECONDS;
    if (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0 || grace > MAX_GRACE_SECONDS) {
      issues.push({ field: 'graceSeconds', message: `must be an integer from 0 to ${MAX_GRACE_SECONDS}` });
    }
    if (b.secret !== undefined && typeof b.secret !== 'string') issues.push({ field: 'secret', message: 'must be a string' });
    if (issues.length > 0) throw new AppValidationError(issues);
    const secret = typeof b.secret === 'string' ? b.secret : randomBytes(16).toString('hex');
    return this.#change(id, ifMatch, actor, 'rotate-secret', (doc) => {
      const now = Date.now();
      const kept = (doc.previousSecrets ?? []).filter((p) => p.expiresAt > now);
      const previous = (grace as number) > 0 ? [...kept, { secret: doc.secret, expiresAt: now + (grace as number) * 1000 }] : kept;
      const next = validated({ ...doc, secret, previousSecrets: previous.slice(-MAX_PREVIOUS_SECRETS) });
      if (next.secret === doc.secret) throw new AppValidationError([{ field: 'secret', message: 'must differ from the current secret' }]);
      return { doc: next, changes: { secret: secret, graceSeconds: grace } };
    });
  }

  async delete(id: string, ifMatch: number | undefined, actor: string): Promise<void> {
    this.#writable(id);
    const current = await this.catalog.store.get(id);
    if (current === undefined) throw new AppNotFoundError(id);
    const audit = { action: 'delete' as const, appId: id, actor, changes: {} };
    await this.catalog.store.delete(id, ifMatch, audit);
    this.log.info(audit, 'app changed');
    await this.catalog.refresh(id);
  }

  audit(limit: number, before: number | undefined): Promise<AuditEntry[]> {
    return this.catalog.store.audit(limit, before);
  }

  async #change(
    id: string,
    ifMatch: number | undefined,
    actor: string,
    action: AuditAction,
    apply: (doc: AppDocument) => { doc: AppDocument; changes: Record<string, unknown> },
  ): Promise<AppView> {
    this.#writable(id);
    for (let attempt = 1; ; attempt++) {
      const current = await this.catalog.store.get(id);
      if (current === undefined) throw new AppNotFoundError(id);
      if (ifMatch !== undefined && ifMatch !== current.version) throw new AppVersionConflictError(id, ifMatch, current.version);
      const { doc, changes } = apply(current.doc);
      try {
        const audit = { action, appId: id, actor, changes: auditable(changes) };
        const stored = await this.catalog.store.update(id, doc, current.version, audit);
        this.log.info({ ...audit, version: stored.version }, 'app changed');
        await this.catalog.refresh(id);
        return view(stored, 'store');
      } catch (err) {
        // Another change came between the read and the write: made again on top of it, unless
        // the client asked for this exact version.
        if (!(err instanceof AppVersionConflictError) || ifMatch !== undefined || attempt >= CAS_ATTEMPTS) throw err;
      }
    }
  }

  #writable(id?: string): void {
    if (id !== undefined && this.pinned.some((p) => p.id === id)) {
      throw new ReadOnlyStoreError(`app ${id} is defined by the environment (PUSH_APP_ID, PUSH_APP_KEY, PUSH_APP_SECRET): change it there and restart`);
    }
    const why = this.catalog.store.readOnly;
    if (why !== undefined) throw new ReadOnlyStoreError(why);
  }

  #pinnedView(app: App): AppView {
    return view({ doc: documentFromApp(app), version: 1, createdAt: '', updatedAt: '' }, 'environment');
  }
}

function rejectFields(body: Record<string, unknown>, names: readonly string[], message: string): void {
  const issues = names.filter((n) => n in body).map((field) => ({ field, message }));
  if (issues.length > 0) throw new AppValidationError(issues);
}

function validated(raw: unknown): AppDocument {
  const check = validateAppDocument(raw);
  if (!check.ok) throw new AppValidationError(check.issues);
  return check.doc;
}

/** The fields the creator gave, plus generated credentials (never the secret itself in the audit). */
function withoutDefaults(doc: AppDocument, body: Record<string, unknown>): Record<string, unknown> {
  return { ...body, id: doc.id, key: doc.key, secret: '(set)' };
}

function view(s: StoredApp, source: AppView['source']): AppView {
  const { previousSecrets, ...doc } = s.doc;
  return {
    ...doc,
    previousSecrets: (previousSecrets ?? []).filter((p) => p.expiresAt > Date.now()).map((p) => ({ expiresAt: new Date(p.expiresAt).toISOString() })),
    version: s.version,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    source,
  };
}
