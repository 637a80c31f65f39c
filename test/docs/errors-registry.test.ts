/**
 * docs/errors.md against the error registries, entry by entry and both ways: each table of the
 * document lists exactly the entries of its registry, with the same code and HTTP status (HTTP
 * surfaces) or close behaviour (WebSocket), and the document names no string code no registry has.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { STARTUP_ERRORS } from '@herald/config';
import { PUSHER_ERRORS, PusherErrorCode } from '@herald/protocol';
import { API_ERRORS } from '../../packages/gateway/src/api/errors.js';
import { WORKER_HTTP_ERRORS } from '../../packages/webhook-worker/src/worker-http-error.js';

const doc = readFileSync(fileURLToPath(new URL('../../docs/errors.md', import.meta.url)), 'utf8');

/** The cells of each row of the first table under the `## ` heading that starts with `heading`. */
function tableRows(heading: string): string[][] {
  const section = doc.split(/^## /m).find((s) => s.startsWith(heading));
  if (section === undefined) throw new Error(`docs/errors.md has no section "${heading}"`);
  const lines = section.split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  // The header row and the |---| row come first; the table ends at the first line that is not a row.
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split(' | ')
        .map((c) => c.trim()),
    );
  }
  return rows;
}

const unquote = (cell: string) => cell.replace(/^`(.*)`$/, '$1');
const sorted = (xs: Iterable<string>) => [...xs].sort();

/** `code status` of each row of an HTTP surface's table, and of each entry of its registry. */
function httpSurface(heading: string, registry: Record<string, { code: string; status: number }>) {
  return {
    documented: sorted(tableRows(heading).map(([code, status]) => `${unquote(code!)} ${status}`)),
    declared: sorted(Object.values(registry).map((e) => `${e.code} ${e.status}`)),
  };
}

describe('docs/errors.md and the error registries', () => {
  it('WebSocket: one row per pusher:error entry, with its code, name and close behaviour', () => {
    const documented = tableRows('WebSocket').map(([code, name, , closes]) => `${code} ${unquote(name!)} ${closes}`);
    const declared = Object.entries(PUSHER_ERRORS).map(([name, e]) => `${e.code ?? 'null'} ${name} ${e.closes ? 'yes' : 'no'}`);
    expect(sorted(documented)).toEqual(sorted(declared));
  });

  it('WebSocket: every code of the code table has an entry, and every entry that closes has a close code', () => {
    const used = new Set(Object.values(PUSHER_ERRORS).map((e) => e.code));
    expect(Object.values(PusherErrorCode).filter((c) => !used.has(c))).toEqual([]);
    expect(Object.entries(PUSHER_ERRORS).filter(([, e]) => e.closes && e.code === null)).toEqual([]);
  });

  it('HTTP API: one row per entry, with its code and status', () => {
    const { documented, declared } = httpSurface('HTTP API', API_ERRORS);
    expect(documented).toEqual(declared);
  });

  it('webhook worker port: one row per entry, with its code and status', () => {
    const { documented, declared } = httpSurface('Webhook worker port', WORKER_HTTP_ERRORS);
    expect(documented).toEqual(declared);
  });

  it('start-up: one row per entry', () => {
    const documented = tableRows('Configuration and start-up').map(([code]) => unquote(code!));
    expect(sorted(documented)).toEqual(sorted(Object.values(STARTUP_ERRORS).map((e) => e.code)));
  });

  it('each HTTP registry gives every entry its own string code', () => {
    for (const registry of [API_ERRORS, WORKER_HTTP_ERRORS, STARTUP_ERRORS]) {
      const codes = Object.values(registry).map((e) => e.code);
      expect(codes.filter((c, i) => codes.indexOf(c) !== i)).toEqual([]);
    }
  });

  it('names no string code that no registry declares, anywhere in the document', () => {
    const declared = new Set<string>([API_ERRORS, WORKER_HTTP_ERRORS, STARTUP_ERRORS].flatMap((r) => Object.values(r).map((e) => e.code)));
    const documented = new Set([...doc.matchAll(/`(PUSH_ERR_[A-Z_]+)`/g)].map((m) => m[1]!));
    expect([...documented].filter((c) => !declared.has(c))).toEqual([]);
  });
});
