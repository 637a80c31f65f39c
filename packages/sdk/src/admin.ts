import {
  prepareAudit,
  prepareCreateApp,
  prepareDeleteApp,
  prepareGetApp,
  prepareListApps,
  prepareRotateSecret,
  prepareUpdateApp,
  type AdminContext,
} from './admin-requests.js';
import type { AdminOptions, App, AppList, AppPatch, AuditEntry, AuditOptions, IfMatch, NewApp, RotateSecretOptions } from './admin-types.js';
import { invalidOptions, invalidResponse } from './errors.js';
import { parseBaseUrl, parseTimeout, pathPrefixOf } from './options.js';
import type { PreparedRequest } from './requests.js';
import { HttpTransport } from './transport.js';

/** RFC 6750 bearer tokens are visible ASCII; anything else could not travel in a header unchanged. */
const TOKEN_RE = /^[\x21-\x7e]+$/;

/**
 * Client of Herald's admin API (docs/reference/admin-api.md): create, change, rotate and delete
 * apps at run time, and read the audit log.
 *
 * - Every request carries `Authorization: Bearer <token>`. The token lives in a private field: it is
 *   never part of an error, a message, `util.inspect` or `JSON.stringify` of this object.
 * - Arguments that shape the request (ids, versions, `graceSeconds`, paging) are checked before
 *   anything is sent; an app's field values are the server's to judge, and a refusal names each bad
 *   one in `HeraldApiError.fields`.
 * - Every failure is a `HeraldApiError` rejection; a refusal carries the HTTP `status` and the
 *   server's `errorCode` (`PUSH_ERR_APP_NOT_FOUND`...).
 * - Connections are kept alive and reused; `close()` releases them.
 */
export class HeraldAdmin implements AsyncDisposable {
  readonly #context: AdminContext;
  readonly #transport: HttpTransport;

  /**
   * @param baseUrl a gateway's API origin, e.g. `http://127.0.0.1:3232`; a path is put in front of `/admin/v1`.
   * @param adminToken the deployment's `PUSH_ADMIN_TOKEN`.
   * @throws HeraldApiError `PUSH_ERR_SDK_INVALID_OPTIONS` for a bad URL, token or option.
   */
  constructor(baseUrl: string, adminToken: string, options: AdminOptions = {}) {
    const url = parseBaseUrl(baseUrl);
    // The message never quotes the token: a mistyped token is still mostly a secret.
    if (typeof adminToken !== 'string' || !TOKEN_RE.test(adminToken)) {
      throw invalidOptions('The admin token must be a non-empty string of visible ASCII characters');
    }
    if (options === null || typeof options !== 'object') throw invalidOptions('options must be an object');
    const timeoutMs = parseTimeout(options.timeoutMs);
    this.#context = Object.freeze({ pathPrefix: pathPrefixOf(url), token: adminToken });
    this.#transport = new HttpTransport({ url, timeoutMs, keepAlive: options.keepAlive ?? true });
  }

  /** Every app, without secrets, and the store they come from. */
  async listApps(): Promise<AppList> {
    return (await this.#request(() => prepareListApps(this.#context), hasArray('apps'))) as AppList;
  }

  /** Creates an app; `id`, `key` and `secret` are generated when absent. Resolves with the whole app, secret included. */
  async createApp(fields: NewApp = {}): Promise<App> {
    return (await this.#request(() => prepareCreateApp(this.#context, fields), isApp)) as App;
  }

  /** The app, secret included; 404 `PUSH_ERR_APP_NOT_FOUND` when there is none. */
  async getApp(id: string): Promise<App> {
    return (await this.#request(() => prepareGetApp(this.#context, id), isApp)) as App;
  }

  /**
   * Changes the given fields; `null` removes an optional one or returns a limit to its default.
   * With `ifMatch`, refused (409 `PUSH_ERR_APP_VERSION_CONFLICT`) unless the app is at that version.
   */
  async updateApp(id: string, patch: AppPatch, options: IfMatch = {}): Promise<App> {
    return (await this.#request(() => prepareUpdateApp(this.#context, id, patch, options.ifMatch), isApp)) as App;
  }

  /** `updateApp(id, { enabled: false })`: its sockets are closed with 4003 and its REST requests refused. */
  async disableApp(id: string, options: IfMatch = {}): Promise<App> {
    return this.updateApp(id, { enabled: false }, options);
  }

  /** `updateApp(id, { enabled: true })`. */
  async enableApp(id: string, options: IfMatch = {}): Promise<App> {
    return this.updateApp(id, { enabled: true }, options);
  }

  /** Deletes the app (conditional on `ifMatch` when given). */
  async deleteApp(id: string, options: IfMatch = {}): Promise<void> {
    await this.#request(() => prepareDeleteApp(this.#context, id, options.ifMatch));
  }

  /**
   * A new secret (generated when `secret` is absent) signs from now on; the old one still verifies
   * for `graceSeconds` (the server's default: 3600). Resolves with the app, new secret included.
   */
  async rotateSecret(id: string, options: RotateSecretOptions = {}): Promise<App> {
    return (await this.#request(() => prepareRotateSecret(this.#context, id, options), isApp)) as App;
  }

  /** Audit entries, newest first; pass the last `seq` seen as `before` for the page after. */
  async audit(options: AuditOptions = {}): Promise<AuditEntry[]> {
    const body = (await this.#request(() => prepareAudit(this.#context, options), hasArray('entries'))) as { entries: AuditEntry[] };
    return body.entries;
  }

  /** Releases the kept-alive connections. Requests in flight fail; later ones reject with `PUSH_ERR_SDK_CLOSED`. */
  async close(): Promise<void> {
    this.#transport.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Building runs inside the promise, so that a validation error is a rejection, not a throw. A 2xx
   * body that `check` refuses is `InvalidResponse` (another server, or a proxy, answered).
   */
  async #request(build: () => PreparedRequest, check?: BodyCheck): Promise<unknown> {
    const req = build();
    const { status, body } = await this.#transport.exchange(req);
    const missing = check?.(body);
    if (missing !== undefined) throw invalidResponse(req.method, req.signedPath, status, JSON.stringify(body) ?? '', missing);
    return body;
  }
}

/** What a 2xx body lacks, or undefined when it has what the caller reads. */
type BodyCheck = (body: unknown) => string | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

const isApp: BodyCheck = (body) => (isObject(body) && typeof body.id === 'string' ? undefined : 'no app in it');

const hasArray =
  (key: string): BodyCheck =>
  (body) =>
    isObject(body) && Array.isArray(body[key]) ? undefined : `no ${key} array`;
