/** A configuration Herald refuses to start with; the message names each variable or app at fault. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'PUSH_ERR_CONFIG';
}
