/** Sent as `version` in the socket URL query, next to `client=herald-js`. Keep in step with package.json. */
export const CLIENT_VERSION = '0.1.0';
