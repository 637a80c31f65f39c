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
  scripts?: Record<string, string>;
}

interface Pkg {
  dir: string;
  name: string;
  /** `@herald/*` names in dependencies and peerDependencies: what its shipped code may use. */
  runtime: Set<string>;
  /** `@herald/*` names in devDependencies: what only its tests may use. */
  dev: Set<string>;
  /** Project references of its tsconfig.json, as package directory names; null for a package tsc does not build (test support, the dashboard). */
  references: Set<string> | null;
  /** Built by a tool of its own (its `build` script: the dashboard's Vite), not by `tsc -b`. */
  ownBuild: boolean;
}

const pkgDirs = readdirSync(join(root, 'packages')).filter((d) => statSync(join(root, 'packages', d, 'package.json'), { throwIfNoEntry: false })?.isFile());

const heraldNames = (...lists: (Record<string, string> | undefined)[]) =>
  new Set(lists.flatMap((deps) => Object.keys(deps ?? {})).filter((n) => n.startsWith('@herald/')));

const packages: Pkg[] = pkgDirs.map((dir) => {
  const m = JSON.parse(read('packages', dir, 'package.json')) as Manifest;
  const hasTsconfig = statSync(join(root, 'packages', dir, 'tsconfig.json'), { throwIfNoEntry: false })?.isFile() ?? false;
  const tsconfig = hasTsconfig ? (JSON.parse(read('packages', dir, 'tsconfig.json')) as { references?: { path: string }[] }) : undefined;
  const references = tsconfig ? new Set((tsconfig.references ?? []).map((r) => r.path.replace(/^\.\.\//, ''))) : null;
  const ownBuild = !hasTsconfig && typeof m.scripts?.build === 'string';
  return { dir, name: m.name, runtime: heraldNames(m.dependencies, m.peerDependencies), dev: heraldNames(m.devDependencies), references, ownBuild };
});
const byName = new Map(packages.map((p) => [p.name, p]));
const built = (p: Pkg) => p.references !== null || p.ownBuild;

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

interface Uses {
  /** Package name -> first file using it. */
  imported: Map<string, string>;
  resolved: Map<string, string>;
}

/** What a package's shipped sources use, and what its tests use (every file of a package never built counts as a test's). */
function usesOf(pkg: Pkg): { code: Uses; tests: Uses } {
  const code: Uses = { imported: new Map(), resolved: new Map() };
  const tests: Uses = { imported: new Map(), resolved: new Map() };
  const dirs = ['src', 'test'].map((d) => join(root, 'packages', pkg.dir, d)).filter((d) => statSync(d, { throwIfNoEntry: false })?.isDirectory());
  for (const file of dirs.flatMap(sourceFiles)) {
    const isTest = !built(pkg) || file.endsWith('.test.ts') || file.includes('/test/');
    const into = isTest ? tests : code;
    // Comments may show an import as an example; only code counts.
    const text = readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '');
    const where = file.slice(root.length);
    for (const m of text.matchAll(IMPORT)) if (!into.imported.has(m[1]!)) into.imported.set(m[1]!, where);
    for (const m of text.matchAll(RESOLVE)) if (!into.resolved.has(m[1]!)) into.resolved.set(m[1]!, where);
  }
  return { code, tests };
}

describe('the workspace package graph', () => {
  it('finds the packages', () => {
    expect(packages.map((p) => p.name)).toEqual(expect.arrayContaining(['@herald/protocol', '@herald/gateway', '@herald/webhooks']));
  });

  for (const pkg of packages) {
    describe(pkg.name, () => {
      const { code, tests } = usesOf(pkg);
      // A bundle of its own build (the dashboard) carries what it imports: its imports are build-time
      // (dev) dependencies, and nothing of it is resolved at run time.
      const usedByCode = pkg.ownBuild ? new Map<string, string>() : new Map([...code.resolved, ...code.imported]);
      const usedByTests = new Map([...tests.resolved, ...tests.imported, ...(pkg.ownBuild ? [...code.resolved, ...code.imported] : [])]);
      const named = (entries: Iterable<[string, string]>) => [...entries].map(([name, file]) => `${name} (${file})`);

      it('declares in dependencies every workspace package its shipped code uses', () => {
        expect(named([...usedByCode].filter(([name]) => name !== pkg.name && !pkg.runtime.has(name)))).toEqual([]);
      });

      it('declares every workspace package its tests use', () => {
        expect(named([...usedByTests].filter(([name]) => name !== pkg.name && !pkg.runtime.has(name) && !pkg.dev.has(name)))).toEqual([]);
      });

      it('does not import itself by name', () => {
        expect([...usedByCode.keys()].filter((name) => name === pkg.name)).toEqual([]);
      });

      it('declares no workspace package it does not use, and as a dependency only what its shipped code uses', () => {
        expect([...pkg.runtime].filter((name) => !usedByCode.has(name))).toEqual([]);
        expect([...pkg.dev].filter((name) => !usedByTests.has(name))).toEqual([]);
      });

      it('depends at run time only on built packages (test support is a devDependency)', () => {
        expect([...pkg.runtime].filter((name) => byName.get(name) !== undefined && !built(byName.get(name)!))).toEqual([]);
      });

      it('references the tsconfig project of every workspace package its shipped code imports, and only those it depends on', () => {
        if (pkg.references === null) return expect(built(pkg)).toBe(pkg.ownBuild);
        const references = pkg.references;
        const dirOf = (name: string) => byName.get(name)?.dir ?? name;
        expect([...code.imported.keys()].map(dirOf).filter((dir) => !references.has(dir))).toEqual([]);
        const runtimeDirs = new Set([...pkg.runtime].map(dirOf));
        expect([...references].filter((dir) => !runtimeDirs.has(dir))).toEqual([]);
      });
    });
  }

  it("has no cycle among the packages' run-time dependencies", () => {
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (name: string, path: string[]) => {
      if (state.get(name) === 'done') return;
      if (state.get(name) === 'visiting') {
        cycles.push([...path.slice(path.indexOf(name)), name].join(' -> '));
        return;
      }
      state.set(name, 'visiting');
      for (const dep of byName.get(name)?.runtime ?? []) visit(dep, [...path, name]);
      state.set(name, 'done');
    };
    for (const pkg of packages) visit(pkg.name, []);
    expect(cycles).toEqual([]);
  });

  it('is listed whole in the root package.json workspaces, tsconfig.json references and vitest aliases', () => {
    const rootManifest = JSON.parse(read('package.json')) as Manifest;
    expect([...(rootManifest.workspaces ?? [])].sort()).toEqual(pkgDirs.map((d) => `packages/${d}`).sort());
    const rootRefs = (JSON.parse(read('tsconfig.json')) as { references: { path: string }[] }).references.map((r) => r.path);
    expect(rootRefs.sort()).toEqual(
      packages
        .filter((p) => p.references !== null)
        .map((p) => `packages/${p.dir}`)
        .sort(),
    );
    const vitestConfig = read('vitest.config.ts');
    // A package built by its own tool is not imported through a source alias.
    expect(packages.filter((p) => !p.ownBuild && !vitestConfig.includes(`'${p.name}': src('${p.dir}')`)).map((p) => p.name)).toEqual([]);
  });
});
