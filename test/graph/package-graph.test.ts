/**
 * The workspace graph is what the package manifests say it is: every `@herald/*` package a
 * package's sources use (import, re-export, dynamic import, or a module resolution of one of its
 * exports) is declared in its package.json, none is declared unused, TypeScript imports have the
 * matching tsconfig project reference, the declared graph has no cycle, and the root package.json,
 * tsconfig.json and vitest.config.ts know every package.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (...parts: string[]) => readFileSync(join(root, ...parts), 'utf8');

interface Manifest {
  name: string;
  workspaces?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

interface Pkg {
  dir: string;
  name: string;
  /** `@herald/*` names in dependencies, devDependencies and peerDependencies. */
  declared: Set<string>;
  /** Project references of its tsconfig.json, as package directory names. */
  references: Set<string>;
}

const pkgDirs = readdirSync(join(root, 'packages')).filter((d) => statSync(join(root, 'packages', d, 'package.json'), { throwIfNoEntry: false })?.isFile());

const packages: Pkg[] = pkgDirs.map((dir) => {
  const m = JSON.parse(read('packages', dir, 'package.json')) as Manifest;
  const declared = new Set(
    [m.dependencies, m.devDependencies, m.peerDependencies].flatMap((deps) => Object.keys(deps ?? {})).filter((n) => n.startsWith('@herald/')),
  );
  const tsconfig = JSON.parse(read('packages', dir, 'tsconfig.json')) as { references?: { path: string }[] };
  const references = new Set((tsconfig.references ?? []).map((r) => r.path.replace(/^\.\.\//, '')));
  return { dir, name: m.name, declared, references };
});
const byName = new Map(packages.map((p) => [p.name, p]));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** `from '@herald/x'`, `import '@herald/x'`, `import('@herald/x')`: the package name and whether TypeScript resolves it. */
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](@herald\/[a-z0-9-]+)(?:\/[^'"]*)?['"]/g;
/** `require.resolve('@herald/x/...')`, `import.meta.resolve('@herald/x/...')`: a file of the package, read at run time. */
const RESOLVE = /\bresolve\(\s*['"](@herald\/[a-z0-9-]+)(?:\/[^'"]*)?['"]/g;

function usesOf(pkg: Pkg): { imported: Map<string, string>; resolved: Map<string, string> } {
  const imported = new Map<string, string>();
  const resolved = new Map<string, string>();
  for (const file of sourceFiles(join(root, 'packages', pkg.dir, 'src'))) {
    // Comments may show an import as an example; only code counts.
    const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    const where = file.slice(root.length);
    for (const m of text.matchAll(IMPORT)) if (!imported.has(m[1]!)) imported.set(m[1]!, where);
    for (const m of text.matchAll(RESOLVE)) if (!resolved.has(m[1]!)) resolved.set(m[1]!, where);
  }
  return { imported, resolved };
}

describe('the workspace package graph', () => {
  it('finds the packages', () => {
    expect(packages.map((p) => p.name)).toEqual(expect.arrayContaining(['@herald/protocol', '@herald/gateway', '@herald/webhooks']));
  });

  for (const pkg of packages) {
    describe(pkg.name, () => {
      const { imported, resolved } = usesOf(pkg);
      const used = new Map([...resolved, ...imported]);

      it('declares every workspace package its sources use', () => {
        const undeclared = [...used].filter(([name]) => name !== pkg.name && !pkg.declared.has(name)).map(([name, file]) => `${name} (${file})`);
        expect(undeclared).toEqual([]);
      });

      it('does not import itself by name', () => {
        expect(used.has(pkg.name) ? [used.get(pkg.name)] : []).toEqual([]);
      });

      it('declares no workspace package its sources do not use', () => {
        expect([...pkg.declared].filter((name) => !used.has(name))).toEqual([]);
      });

      it('references the tsconfig project of every workspace package it imports, and only declared ones', () => {
        const dirOf = (name: string) => byName.get(name)?.dir ?? name;
        expect([...imported.keys()].map(dirOf).filter((dir) => !pkg.references.has(dir))).toEqual([]);
        const declaredDirs = new Set([...pkg.declared].map(dirOf));
        expect([...pkg.references].filter((dir) => !declaredDirs.has(dir))).toEqual([]);
      });
    });
  }

  it('has no cycle among the declared dependencies', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (name: string, path: string[]) => {
      if (state.get(name) === 'done') return;
      if (state.get(name) === 'visiting') {
        cycles.push([...path.slice(path.indexOf(name)), name].join(' -> '));
        return;
      }
      state.set(name, 'visiting');
      for (const dep of byName.get(name)?.declared ?? []) visit(dep, [...path, name]);
      state.set(name, 'done');
    };
    for (const pkg of packages) visit(pkg.name, []);
    expect(cycles).toEqual([]);
  });

  it('is listed whole in the root package.json workspaces, tsconfig.json references and vitest aliases', () => {
    const rootManifest = JSON.parse(read('package.json')) as Manifest;
    expect([...(rootManifest.workspaces ?? [])].sort()).toEqual(pkgDirs.map((d) => `packages/${d}`).sort());
    const rootRefs = (JSON.parse(read('tsconfig.json')) as { references: { path: string }[] }).references.map((r) => r.path);
    expect(rootRefs.sort()).toEqual(pkgDirs.map((d) => `packages/${d}`).sort());
    const vitestConfig = read('vitest.config.ts');
    expect(packages.filter((p) => !vitestConfig.includes(`'${p.name}': src('${p.dir}')`)).map((p) => p.name)).toEqual([]);
  });
});
