import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: tests read its shipped files (deploy/, docs/) and spawn its built entry points. */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const repoPath = (...parts: string[]) => join(REPO, ...parts);
export const readRepoFile = (...parts: string[]) => readFileSync(repoPath(...parts), 'utf8');
