/**
 * The built page's script: Vega, Vega-Lite and vega-interpreter (about 800 kB of the 880 kB the
 * page once loaded up front) are a chunk of their own, imported when the first chart is drawn,
 * so the script the page starts with stays small. Reads the Vite build that ensureClientBuilt
 * makes (the same the server serves); the charts drawing from the lazy chunk are checked in
 * chromium by browser.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_BUILD_DIR, ensureClientBuilt } from '../src/server/client-build.ts';

/** The entry script's largest acceptable size: the page's own code is about 60 kB minified. */
const ENTRY_LIMIT_BYTES = 150 * 1024;

test('the page starts with a small script; Vega is a chunk imported on the first chart', { timeout: 300_000 }, async () => {
  await ensureClientBuilt();
  const html = readFileSync(join(DEFAULT_BUILD_DIR, 'index.html'), 'utf8');
  const entries = [...html.matchAll(/<script type="module"[^>]*src="\.\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]!);
  assert.equal(entries.length, 1, `one entry script in index.html: ${JSON.stringify(entries)}`);
  const entryPath = join(DEFAULT_BUILD_DIR, entries[0]!);
  const entry = readFileSync(entryPath, 'utf8');
  const size = statSync(entryPath).size;
  assert.ok(size < ENTRY_LIMIT_BYTES, `the entry script is ${size} bytes (limit ${ENTRY_LIMIT_BYTES}): is Vega bundled into it again?`);
  // Nothing modulepreloads the chunk from index.html, and the entry imports it only dynamically.
  assert.doesNotMatch(html, /vega/i);
  const chunks = readdirSync(join(DEFAULT_BUILD_DIR, 'assets')).filter((f) => f.endsWith('.js') && join('assets', f) !== entries[0]);
  const vegaChunk = chunks.find((f) => /^vega\.module-/.test(f));
  assert.ok(vegaChunk, `a chunk of its own for vega: ${chunks.join(', ')}`);
  assert.ok(statSync(join(DEFAULT_BUILD_DIR, 'assets', vegaChunk)).size > 300 * 1024, 'the vega chunk holds Vega');
  assert.ok(entry.includes(`import("./${vegaChunk}")`), 'the entry imports the vega chunk dynamically');
  assert.doesNotMatch(entry, new RegExp(`(from|import)\\s*"\\./${vegaChunk.replace(/\./g, '\\.')}"`), 'no static import of the vega chunk');
  // The entry's static imports (if any) are none of the lazily loaded chunks.
  const staticImports = [...entry.matchAll(/(?:^|[;\n])\s*import\s*(?:[^"();]*?from\s*)?"(\.\/[^"]+)"/g)].map((m) => m[1]!);
  assert.deepEqual(staticImports, [], 'the entry script statically imports no chunk');
});
