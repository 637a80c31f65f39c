/** Absolute path of packages/client/dist. */
export const distDir: string;
/** Builds every bundle into dist/; `types: false` skips the declaration files. Resolves with the bundle paths. */
export function build(options?: { types?: boolean }): Promise<string[]>;
