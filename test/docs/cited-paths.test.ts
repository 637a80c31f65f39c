/**
 * Every path that a comment, a test title or a document cites must exist in the repository, so a
 * reader can open it. Read from the files themselves: comments and test titles (`describe`/`it`/
 * `test`) of the sources, tests, benchmarks and scripts, found with the TypeScript parser so other
 * strings and regular expressions are not mistaken for them, and the text of every Markdown file.
 *
 * What counts as a citation (the second test shows one of each):
 * - a path under one of the repository's top folders named in ROOTS; a `*`, `**`, `<name>` or
 *   `{name}` segment matches any name. It may also be read from the citing file's folder or its
 *   package's folder, as a package README cites its own tests;
 * - a path under a folder named in MISSING_ROOTS, which the repository does not have: always
 *   reported;
 * - a bare Markdown file name: it must be beside the citing file, at the root or in docs/;
 * - in Markdown, a relative link target, read from the file's folder.
 * Build output (a `dist` folder) is not in the repository: it counts when its package exists.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SKIP_DIRS = new Set(['node_modules', '.git', 'dist', 'coverage', '.herald', 'certs']);
const CODE = /\.(ts|mts|cts|js|mjs|cjs)$/;

/** Every file and folder of the repository, relative to its root, with `/` separators. */
function walk(): { files: string[]; dirs: Set<string> } {
  const files: string[] = [];
  const dirs = new Set<string>();
  const visit = (rel: string) => {
    for (const name of readdirSync(join(REPO, rel))) {
      if (SKIP_DIRS.has(name)) continue;
      const child = rel === '' ? name : `${rel}/${name}`;
      if (statSync(join(REPO, child)).isDirectory()) {
        dirs.add(child);
        visit(child);
      } else files.push(child);
    }
  };
  visit('');
  return { files, dirs };
}

const { files, dirs } = walk();
const fileSet = new Set(files);

/** The text of every comment and test title in a source file, each with its 1-based line. */
function comments(rel: string): { line: number; text: string }[] {
  const text = readFileSync(join(REPO, rel), 'utf8');
  const source = ts.createSourceFile(rel, text, ts.ScriptTarget.Latest, true, rel.endsWith('js') ? ts.ScriptKind.JS : ts.ScriptKind.TS);
  const seen = new Set<number>();
  const out: { line: number; text: string }[] = [];
  const collect = (ranges: ts.CommentRange[] | undefined) => {
    for (const r of ranges ?? []) {
      if (seen.has(r.pos)) continue;
      seen.add(r.pos);
      out.push({ line: source.getLineAndCharacterOfPosition(r.pos).line + 1, text: text.slice(r.pos, r.end) });
    }
  };
  const visit = (node: ts.Node) => {
    collect(ts.getLeadingCommentRanges(text, node.getFullStart()));
    collect(ts.getTrailingCommentRanges(text, node.getEnd()));
    node.forEachChild(visit);
  };
  collect(ts.getLeadingCommentRanges(text, 0));
  visit(source);
  const titles = (node: ts.Node) => {
    if (ts.isCallExpression(node) && /^(describe|it|test)\b/.test(node.expression.getText(source))) {
      const title = node.arguments[0];
      if (title && (ts.isStringLiteral(title) || ts.isNoSubstitutionTemplateLiteral(title) || ts.isTemplateExpression(title))) {
        out.push({ line: source.getLineAndCharacterOfPosition(title.getStart(source)).line + 1, text: title.getText(source) });
      }
    }
    node.forEachChild(titles);
  };
  titles(source);
  return out;
}

function lines(rel: string): { line: number; text: string }[] {
  return readFileSync(join(REPO, rel), 'utf8')
    .split('\n')
    .map((text, i) => ({ line: i + 1, text }));
}

const ROOTS = ['packages', 'docs', 'test', 'bench', 'scripts', 'deploy', 'examples'];
const MISSING_ROOTS = ['spec', 'shared'];
// A root-relative path: not part of a longer path, URL or relative link (`../docs/x` is a link).
const ROOTED = new RegExp(String.raw`(?<![\w./@-])((?:${[...ROOTS, ...MISSING_ROOTS].join('|')})/[\w.*<>{}@-]*(?:/[\w.*<>{}@-]*)*)`, 'g');
const BARE_MD = /(?<![\w./-])([\w-]+\.md)\b/g;
const MD_LINK = /\]\(([^)\s]+)\)/g;

/** `packages/*\/src/<name>.ts` as a regular expression over repository paths. */
function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
      if (pattern[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '<' || c === '{') {
      const close = pattern.indexOf(c === '<' ? '>' : '}', i);
      if (close === -1) re += '\\' + c;
      else {
        re += '[^/]+';
        i = close;
      }
    } else re += /[\w/-]/.test(c) ? c : '\\' + c;
  }
  return new RegExp(`^${re}$`);
}

function exists(path: string): boolean {
  const p = path.replace(/\/+$/, '');
  if (p === '') return true;
  const dist = p.indexOf('/dist');
  if (dist !== -1 && (p.length === dist + 5 || p[dist + 5] === '/')) return exists(p.slice(0, dist));
  if (/[*<{]/.test(p)) {
    const re = globToRegExp(p);
    return files.some((f) => re.test(f)) || [...dirs].some((d) => re.test(d));
  }
  return fileSet.has(p) || dirs.has(p);
}

/** Trailing punctuation of the sentence around a path is not part of it. */
const trim = (p: string) => p.replace(/[.,:;)]+$/, '').replace(/#.*$/, '');

interface Citation {
  file: string;
  line: number;
  cited: string;
}

function citations(file: string, texts: { line: number; text: string }[], markdown: boolean): Citation[] {
  const out: Citation[] = [];
  const dir = posix.dirname(file);
  const pkg = /^packages\/[^/]+/.exec(file)?.[0];
  const bases = ['', dir, ...(pkg ? [pkg] : [])];
  for (const { line, text } of texts) {
    const found = (cited: string, ok: boolean) => {
      if (!ok) out.push({ file, line, cited });
    };
    for (const m of text.matchAll(ROOTED)) {
      const p = trim(m[1]!);
      if (p.endsWith('/') && p.split('/').length === 2 && !MISSING_ROOTS.includes(p.slice(0, -1))) continue; // "test/" as a word
      found(p, !MISSING_ROOTS.includes(p.split('/')[0]!) && bases.some((b) => exists(b === '' ? p : `${b}/${p}`)));
    }
    for (const m of text.matchAll(BARE_MD)) {
      const name = m[1]!;
      found(
        name,
        [posix.join(dir, name), name, `docs/${name}`].some((p) => fileSet.has(p)),
      );
    }
    if (markdown) {
      for (const m of text.matchAll(MD_LINK)) {
        const target = m[1]!;
        if (/^([a-z]+:|#|\/)/i.test(target)) continue; // URLs, anchors, absolute paths
        const p = trim(posix.normalize(posix.join(dir, target)));
        found(target, !p.startsWith('..') && exists(p));
      }
    }
  }
  return out;
}

const toPosix = (p: string) => p.split(sep).join('/');

describe('cited paths', () => {
  const codeFiles = files.filter((f) => CODE.test(f) && !f.startsWith('bench/results/'));
  const markdownFiles = files.filter((f) => f.endsWith('.md'));

  it('finds the files it reads', () => {
    expect(codeFiles.length).toBeGreaterThan(200);
    expect(markdownFiles).toContain('README.md');
    expect(exists('packages/*/src/index.ts')).toBe(true);
    expect(exists('bench/results/<scenario>-<size>.jsonl')).toBe(true);
    expect(exists('packages/nowhere/src/index.ts')).toBe(false);
  });

  it('flags what it should: a missing rooted path, a folder the repository lacks, a bare Markdown name, a broken link', () => {
    // The broken citations are assembled here, not written out, so that the repository's own
    // checks of cited paths do not read this test's examples as citations.
    const md = (name: string) => `${name}.${'md'}`;
    const broken = { rooted: 'packages/nowhere.ts', outside: `spec/${md('protocol')}`, bare: md('nothing'), link: `../${md('missing')}` };
    const cited = citations(
      `docs/${md('x')}`,
      [{ line: 1, text: `see ${broken.rooted}, ${broken.outside} §2, ${broken.bare} and [e](${md('errors')}) [n](${broken.link})` }],
      true,
    );
    expect(cited.map((c) => c.cited)).toEqual([broken.rooted, broken.outside, broken.bare, broken.link]);
    const fine = citations('packages/protocol/src/x.ts', [{ line: 1, text: '// see docs/errors.md and test/docs/, `packages/client/dist/push.js`.' }], false);
    expect(fine).toEqual([]);
  });

  it('every path cited in a comment or a Markdown file exists', () => {
    const broken = [...codeFiles.flatMap((f) => citations(f, comments(f), false)), ...markdownFiles.flatMap((f) => citations(f, lines(f), true))].map(
      (c) => `${toPosix(c.file)}:${c.line}: ${c.cited}`,
    );
    expect(broken).toEqual([]);
  });
});
