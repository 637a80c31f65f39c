/**
 * A publication that could not reach the other nodes within the time it was allowed to wait for
 * Redis (unreachable, or failing over). The publishing node's own subscribers did receive it: a
 * caller that retries delivers it to everyone else, and a second time to those.
 */
export class PublishUnavailableError extends Error {
  override readonly name = 'PublishUnavailableError';
  readonly code = 'PUSH_ERR_PUBLISH_UNAVAILABLE';
}
