// scripts/check-mirrors.ts: every kernel function's (and launcher function's) Mirrors marker matches
// both sides now, and a change to either side alone is caught and named.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { findMirrors, staleMirrors } from '../../../scripts/check-mirrors.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string): string => readFileSync(`${root}${path}`, 'utf8');

describe('check-mirrors', () => {
  test('every kernel marker matches (run npx tsx scripts/check-mirrors.ts --update after reviewing both sides)', () => {
    const mirrors = findMirrors(read);
    assert.ok(mirrors.length >= 30, `${mirrors.length} markers`);
    assert.deepEqual(staleMirrors(mirrors).map((s) => `${s.mirror.file}:${s.mirror.line + 1} ${s.moved}`), []);
  });

  test('a change to the TypeScript side alone is named', () => {
    const edited = (path: string): string => (path === 'packages/nand/src/timing.ts' ? read(path).replace('return this.finish(die, start, start + transfer + this.tPROG);', 'return this.finish(die, start, start + this.tPROG);') : read(path));
    const stale = staleMirrors(findMirrors(edited, ['packages/nand/kernel/metadata-device.ts']));
    assert.deepEqual(stale.map((s) => [s.mirror.kernelFunction, s.moved]), [['clockProgram', 'the TypeScript side']]);
  });

  test('a change to the kernel side alone is named', () => {
    const kernel = 'packages/ssd/kernel/ftl/mapping.ts';
    const edited = (path: string): string => (path === kernel ? read(path).replace(/(function nextHostDie\(\): i32 \{\n)/, '$1  const unused = 0;\n') : read(path));
    const stale = staleMirrors(findMirrors(edited, [kernel]));
    assert.deepEqual(stale.map((s) => [s.mirror.kernelFunction, s.moved]), [['nextHostDie', 'the kernel side']]);
  });

  test('a launcher (packages/*/bin/*.js) is checked too: its copy of a TypeScript function is found, and an edit to either side named', () => {
    const launcher = 'packages/yaffs2/bin/bundle.js';
    assert.ok(findMirrors(read).some((m) => m.file === launcher && m.kernelFunction === 'bundleIsCurrent'), 'the launcher\'s marker is among those checked');
    const copy = (path: string): string => (path === launcher ? read(path).replace('st.mtimeMs >= built.mtimeMs', 'st.mtimeMs > built.mtimeMs') : read(path));
    assert.deepEqual(staleMirrors(findMirrors(copy, [launcher])).map((s) => [s.mirror.kernelFunction, s.moved]), [['bundleIsCurrent', 'the kernel side']]);
    const original = (path: string): string => (path === 'packages/yaffs2/src/startup-snapshot.ts' ? read(path).replace('st.mtimeMs >= built.mtimeMs', 'st.mtimeMs > built.mtimeMs') : read(path));
    assert.deepEqual(staleMirrors(findMirrors(original, [launcher])).map((s) => [s.mirror.kernelFunction, s.moved]), [['bundleIsCurrent', 'the TypeScript side']]);
  });
});
