/**
 * Thrown by a read of the shared cluster state while it is unreachable (clustered mode, Redis down
 * or stalled): callers answer "unavailable, retry" or say the answer is partial, never an empty
 * result that would read as "nobody is here". Writes are not refused: they are skipped and the
 * node's local state is registered again once the store is back.
 */
export class StateUnavailableError extends Error {
  override readonly name = 'StateUnavailableError';
  readonly code = 'PUSH_ERR_STATE_UNAVAILABLE';
  constructor(message = 'Shared state unreachable: retry shortly', options?: ErrorOptions) {
    super(message, options);
  }
}
