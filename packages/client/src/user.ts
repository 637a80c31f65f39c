import { Emitter } from './emitter.js';

/**
 * `push.user`: after `push.signin()`, receives the events the server sends to this user
 * (`#server-to-user-<id>`, e.g. the SDK's `sendToUser`), plus `pusher:signin_success` and
 * `pusher:signin_error`. `user.watchlist` emits `online` / `offline` with `{name, user_ids}`.
 */
export class User extends Emitter {
  /** The signed-in user's id (kept across reconnects; sign-in is repeated automatically). */
  id: string | undefined = undefined;
  /** The parsed `user_data` the server accepted. */
  user_data: unknown = undefined;
  /** True from `pusher:signin_success` until the connection drops. */
  signedIn = false;
  readonly watchlist = new Emitter();
}
