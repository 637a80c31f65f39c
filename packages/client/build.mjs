// Builds the client bundles into dist/ (git-ignored):
//   push.js          IIFE defining the global `Push` (<script src>; served by the gateway at /push.js)
//   push.esm.js      ESM for bundlers (+ push.esm.d.ts)
//   push-uniapp.js   ESM, `export default Push`, sockets and HTTP through `uni.*` (+ .d.ts)
//   push-vue.js      ESM, `export const Push` plus Vue 3 composables; `vue` stays external (+ .d.ts)
//   pusher-recovery.js       ESM, `enableRecovery(pusher)`: message recovery for pusher-js (+ .d.ts)
//   pusher-recovery.iife.js  IIFE defining the global `HeraldRecovery` (<script src> after pusher-js)
// Usage: `node build.mjs` (or `npm run build -w @herald/client`); `--no-types` skips tsc, for
// when the root `tsc -b` already wrote dist/types/. Tests call `build()` directly.
import { spawn } from 'node:child_process';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const pkgDir = dirname(fileURLToPath(import.meta.url));
const protocolSrc = join(pkgDir, '..', 'protocol', 'src');
export const distDir = join(pkgDir, 'dist');

/**
 * The client may use only the pure parts of @herald/protocol. Its index also re-exports the
 * HMAC helpers (node:crypto), so the bundles see a module made of the pure files alone; importing
 * anything else from it fails the build ("No matching export").
 */
const protocolShim = {
  name: 'herald-protocol-pure',
  setup(b) {
    b.onResolve({ filter: /^@herald\/protocol$/ }, () => ({ path: 'herald-protocol', namespace: 'herald-protocol' }));
    b.onLoad({ filter: /.*/, namespace: 'herald-protocol' }, () => ({
      contents: ['events.ts', 'channel.ts', 'errors.ts'].map((f) => `export * from ${JSON.stringify(join(protocolSrc, f))};`).join('\n'),
      resolveDir: protocolSrc,
      loader: 'js',
    }));
  },
};

const common = {
  bundle: true,
  platform: 'browser',
  target: ['es2017'],
  legalComments: 'none',
  charset: 'utf8',
  write: false,
  logLevel: 'silent',
  plugins: [protocolShim],
};

const bundles = [
  { entryPoints: [join(pkgDir, 'src/global.ts')], outfile: join(distDir, 'push.js'), format: 'iife', minify: true },
  { entryPoints: [join(pkgDir, 'src/index.ts')], outfile: join(distDir, 'push.esm.js'), format: 'esm' },
  { entryPoints: [join(pkgDir, 'src/uniapp.ts')], outfile: join(distDir, 'push-uniapp.js'), format: 'esm' },
  { entryPoints: [join(pkgDir, 'src/vue.ts')], outfile: join(distDir, 'push-vue.js'), format: 'esm', external: ['vue'] },
  { entryPoints: [join(pkgDir, 'src/pusher-recovery.ts')], outfile: join(distDir, 'pusher-recovery.js'), format: 'esm' },
  { entryPoints: [join(pkgDir, 'src/pusher-recovery-global.ts')], outfile: join(distDir, 'pusher-recovery.iife.js'), format: 'iife', minify: true },
];

const declarations = {
  'push.esm.d.ts': "export * from './types/index.js';\nexport { default } from './types/index.js';\n",
  'push-uniapp.d.ts': "export * from './types/uniapp.js';\nexport { default } from './types/uniapp.js';\n",
  'push-vue.d.ts': "export * from './types/vue.js';\nexport { default } from './types/vue.js';\n",
  'pusher-recovery.d.ts': "export * from './types/pusher-recovery.js';\n",
};

/** Write-then-rename: concurrent builds (parallel test files) never expose a half-written bundle. */
async function writeAtomic(path, contents) {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, contents);
  await rename(tmp, path);
}

/** A runtime Node API in a browser bundle would only fail in the field; fail the build instead. */
function assertBrowserSafe(file, text) {
  const bad = text.match(/\bnode:[a-z_]+|\brequire\(["'](?:crypto|buffer|fs|path|url)["']\)/);
  if (bad) throw new Error(`${file} references a Node API (${bad[0]})`);
}

function runTsc() {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, '-b', pkgDir], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tsc -b ${pkgDir} exited with ${code}`))));
  });
}

/**
 * Builds every bundle into dist/. `types: false` skips the declaration files (tsc), which the
 * browser tests do not need.
 */
export async function build({ types = true } = {}) {
  const results = await Promise.all(bundles.map((b) => esbuild.build({ ...common, ...b })));
  for (const [i, result] of results.entries()) {
    for (const out of result.outputFiles) {
      assertBrowserSafe(bundles[i].outfile, out.text);
      await writeAtomic(out.path, out.contents);
    }
  }
  // The entry declarations only re-export dist/types/, which tsc writes (here, or the root `tsc -b`).
  for (const [name, text] of Object.entries(declarations)) await writeAtomic(join(distDir, name), text);
  if (types) await runTsc();
  return bundles.map((b) => b.outfile);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const files = await build({ types: !process.argv.includes('--no-types') });
  for (const f of files) console.log(`built ${f}`);
}
