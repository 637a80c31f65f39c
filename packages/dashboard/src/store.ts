/**
 * What every page shares: whether the session is open, the current route (from the hash), the
 * apps and which one is selected. One reactive object, changed only through these functions.
 */
import { reactive } from 'vue';
import type { AppList, AppSummary } from '@herald/sdk';
import { ApiError, errorText, onUnauthorized, request, setCsrf } from './api.js';
import { formatHash, parseHash, type Page, type Route } from './router.js';

interface SessionAnswer {
  csrf: string;
  expiresAt: number;
}

interface SharedState {
  /** `loading` until the session check answers. */
  phase: 'loading' | 'signedOut' | 'signedIn';
  route: Route;
  apps: AppSummary[];
  storeInfo: AppList['store'] | null;
  appsError: string;
  /** Why the user was sent back to sign in, if not by signing out. */
  signedOutReason: string;
}

export const state = reactive<SharedState>({
  phase: 'loading',
  route: parseHash(location.hash),
  apps: [],
  storeInfo: null,
  appsError: '',
  signedOutReason: '',
});

function signedOut(reason: string): void {
  setCsrf(null);
  state.phase = 'signedOut';
  state.apps = [];
  state.signedOutReason = reason;
}

onUnauthorized(() => {
  if (state.phase === 'signedIn') signedOut('The session has ended: sign in again.');
});

window.addEventListener('hashchange', () => {
  state.route = parseHash(location.hash);
});

/** Goes to a page, keeping the selected app unless another is given. */
export function navigate(page: Page, query: Record<string, string> = {}): void {
  const app = state.route.query.app;
  location.hash = formatHash({ page, query: { ...(app ? { app } : {}), ...query } });
}

/** The hash of a page with the selected app: the nav's links. */
export function pageHref(page: Page): string {
  const app = state.route.query.app;
  return formatHash({ page, query: app ? { app } : {} });
}

/** The selected app's id; the first app when none is chosen (or the chosen one is gone). */
export function selectedAppId(): string | undefined {
  const wanted = state.route.query.app;
  if (wanted && state.apps.some((a) => a.id === wanted)) return wanted;
  if (state.apps.length === 0) return wanted;
  return state.apps[0]!.id;
}

export function selectApp(id: string): void {
  // Only the app changes: page-specific parameters (a channel) belong to the previous app.
  location.hash = formatHash({ page: state.route.page, query: { app: id } });
}

/** After a reload the cookie may still be good: the CSRF value is fetched again. */
export async function checkSession(): Promise<void> {
  try {
    const s = await request<SessionAnswer>('GET', '/session', { quiet401: true });
    setCsrf(s.csrf);
    state.phase = 'signedIn';
    await loadApps();
  } catch (err) {
    signedOut(err instanceof ApiError && err.status === 401 ? '' : errorText(err));
  }
}

/** Signs in; throws the API's refusal for the form to show. */
export async function signIn(token: string): Promise<void> {
  const s = await request<SessionAnswer>('POST', '/session', { body: { token }, quiet401: true });
  setCsrf(s.csrf);
  state.signedOutReason = '';
  state.phase = 'signedIn';
  await loadApps();
}

export async function signOut(): Promise<void> {
  try {
    await request('DELETE', '/session', { quiet401: true });
  } catch {
    // Signed out either way: the cookie is the server's to clear, and it expires on its own.
  }
  signedOut('');
}

export async function loadApps(): Promise<void> {
  try {
    const list = await request<AppList>('GET', '/apps');
    state.apps = [...list.apps].sort((a, b) => a.id.localeCompare(b.id));
    state.storeInfo = list.store;
    state.appsError = '';
  } catch (err) {
    state.appsError = errorText(err);
  }
}
