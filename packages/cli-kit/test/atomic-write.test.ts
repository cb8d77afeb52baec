// Atomic output files: whole or not at all, the previous file kept on failure; directories that cannot exist fail at once.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDirectory, isCliError, writeFileAtomic, writeFilesAtomic } from '../src/index.ts';

function withDir(f: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'cli-kit-atomic-'));
  try {
    f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('writeFileAtomic', () => {
  test('creates missing directories and writes the bytes', () =>
    withDir((dir) => {
      const target = join(dir, 'a/b/c.bin');
      writeFileAtomic(target, new Uint8Array([1, 2, 3]));
      assert.deepEqual([...readFileSync(target)], [1, 2, 3]);
      assert.deepEqual(readdirSync(join(dir, 'a/b')), ['c.bin']);
    }));

  test('replaces a file and keeps its permission bits', () =>
    withDir((dir) => {
      const target = join(dir, 'r.txt');
      writeFileSync(target, 'old');
      chmodSync(target, 0o640);
      writeFileAtomic(target, 'new');
      assert.equal(readFileSync(target, 'utf8'), 'new');
      assert.equal(statSync(target).mode & 0o777, 0o640);
    }));

  test('a full disk (injected ENOSPC half-way) leaves the previous file and no temporary', () =>
    withDir((dir) => {
      const target = join(dir, 'r.txt');
      writeFileSync(target, 'previous');
      process.env.FLASHDIFF_WRITE_FAULT = 'ENOSPC';
      try {
        assert.throws(() => writeFileAtomic(target, 'x'.repeat(10000)), (e: unknown) => isCliError(e, 'WRITE_FAILED') && /r\.txt: cannot write \(ENOSPC\)/.test(e.message));
      } finally {
        delete process.env.FLASHDIFF_WRITE_FAULT;
      }
      assert.equal(readFileSync(target, 'utf8'), 'previous');
      assert.deepEqual(readdirSync(dir), ['r.txt']);
    }));

  test('a directory at the target path is refused with its name', () =>
    withDir((dir) => {
      assert.throws(() => writeFileAtomic(dir, 'x'), (e: unknown) => isCliError(e, 'WRITE_FAILED') && e.message.includes('is a directory'));
    }));

  test('a path under /proc fails at once (mkdirSync recursive loops forever there)', () => {
    const t0 = Date.now();
    assert.throws(() => writeFileAtomic('/proc/flashdiff-nope/deeper/x.png', 'x'), (e: unknown) => isCliError(e, 'CANNOT_CREATE_DIRECTORY') && e.message.startsWith('/proc/flashdiff-nope/deeper'));
    assert.throws(() => ensureDirectory('/proc/flashdiff-nope/a/b'), (e: unknown) => isCliError(e, 'CANNOT_CREATE_DIRECTORY'));
    assert.ok(Date.now() - t0 < 5000);
  });

  test('returns the first directory it made, as mkdirSync recursive does; undefined when all exist', () =>
    withDir((dir) => {
      assert.equal(ensureDirectory(join(dir, 'a/b/c')), join(dir, 'a'));
      assert.equal(ensureDirectory(join(dir, 'a/b/d')), join(dir, 'a/b/d'));
      assert.equal(ensureDirectory(join(dir, 'a/b')), undefined);
    }));

  test('a file in the way of a directory is named', () =>
    withDir((dir) => {
      writeFileSync(join(dir, 'f'), '');
      assert.throws(() => ensureDirectory(join(dir, 'f/sub')), (e: unknown) => isCliError(e, 'CANNOT_CREATE_DIRECTORY') && e.message.includes('is not a directory'));
    }));
});

describe('writeFilesAtomic', () => {
  test('writes every file; a failure on any leaves all previous files and no temporaries', () =>
    withDir((dir) => {
      const a = join(dir, 'a.bin');
      const b = join(dir, 'sub/b.json');
      writeFilesAtomic([[a, 'A1'], [b, 'B1']]);
      assert.equal(readFileSync(a, 'utf8'), 'A1');
      assert.equal(readFileSync(b, 'utf8'), 'B1');
      // The second target is a directory: nothing may change, the first file included.
      assert.throws(() => writeFilesAtomic([[a, 'A2'], [join(dir, 'sub'), 'x']]), (e: unknown) => isCliError(e, 'WRITE_FAILED'));
      process.env.FLASHDIFF_WRITE_FAULT = 'ENOSPC';
      try {
        assert.throws(() => writeFilesAtomic([[a, 'A3'], [b, 'B3']]), (e: unknown) => isCliError(e, 'WRITE_FAILED'));
      } finally {
        delete process.env.FLASHDIFF_WRITE_FAULT;
      }
      assert.equal(readFileSync(a, 'utf8'), 'A1');
      assert.equal(readFileSync(b, 'utf8'), 'B1');
      assert.deepEqual(readdirSync(dir).sort(), ['a.bin', 'sub']);
      assert.deepEqual(readdirSync(join(dir, 'sub')), ['b.json']);
    }));
});
