/**
 * Images written by the real YAFFS2 (Aleph One's yaffs direct interface; see
 * fixtures/upstream/README.md for how they were made): truncations, O_TRUNC rewrites, a rename
 * over a hard-linked target, a chmod of the root, an unlink, GC churn and an upstream checkpoint
 * must all read back as upstream left them, and fsck must call them clean.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { isYaffs2Error, openImage } from '../src/index.ts';
import type { Yaffs2 } from '../src/index.ts';
import { assertChurnResult, editsExpected } from './upstream-scenarios.ts';

let work = '';
before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-upstream-'));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

function unpack(name: string): string {
  const image = path.join(work, name);
  fs.writeFileSync(image, zlib.gunzipSync(fs.readFileSync(new URL(`./fixtures/upstream/${name}.gz`, import.meta.url))));
  return image;
}

function checkEdits(yfs: Yaffs2, label: string): void {
  for (const [p, want] of editsExpected()) {
    assert.equal(yfs.stat(p).size, want.length, `${label}: size of ${p}`);
    assert.deepEqual(yfs.readFile(p), want, `${label}: content of ${p}`);
  }
  assert.deepEqual(
    yfs.readdir('/d').map((e) => e.name),
    ['grow', 'otrunc', 'trunc'],
    `${label}: the unlinked /d/gone stays gone`,
  );
  assert.deepEqual(
    yfs.readdir('/h').map((e) => e.name),
    ['link', 'plain', 'sym', 'target'],
  );
  assert.equal(yfs.readlink('/h/sym'), '../d/trunc');
  // chmod of the root wrote a root header: its mode is read back.
  assert.equal(yfs.stat('/').mode & 0o777, 0o777, `${label}: root mode`);
  assert.deepEqual(yfs.check(), [], `${label}: fsck`);
}

describe('images written by the real YAFFS2', () => {
  for (const name of ['upstream-edits.img', 'upstream-edits-checkpoint.img']) {
    test(`${name}: truncate, O_TRUNC, shrink-then-grow, rename over a hard-linked target, chmod /, unlink`, () => {
      const img = openImage(unpack(name), { readOnly: true });
      try {
        assert.equal(img.layout, 'mkyaffs2');
        // Upstream's checkpoint (stream version 8) is not ours: the mount falls back to the scan.
        assert.equal(img.fs.stats.mountedFrom, 'scan');
        checkEdits(img.fs, name);
      } finally {
        img.close();
      }
    });
  }

  for (const name of ['upstream-churn.img', 'upstream-churn-8k-128.img']) {
    test(`${name}: sixty O_TRUNC rewrites and truncations through GC`, () => {
      const img = openImage(unpack(name), { readOnly: true });
      try {
        assertChurnResult(img.fs);
        if (name.includes('8k')) {
          assert.deepEqual([img.format.pageSize, img.format.spareSize, img.format.pagesPerBlock], [8192, 448, 128]);
          assert.match(img.format.notes.join('\n'), /change only at multiples of 128 pages/);
        }
      } finally {
        img.close();
      }
    });
  }

  // Every other geometry and encoding upstream writes, found from the image alone.
  const variants: [string, { pageSize: number; spareSize: number; bigEndian: boolean; tagEcc: boolean }][] = [
    ['upstream-edits-4k.img', { pageSize: 4096, spareSize: 128, bigEndian: false, tagEcc: true }],
    ['upstream-edits-be.img', { pageSize: 2048, spareSize: 64, bigEndian: true, tagEcc: true }],
    ['upstream-edits-noecc.img', { pageSize: 2048, spareSize: 64, bigEndian: false, tagEcc: false }],
    ['upstream-edits-16k.img', { pageSize: 16384, spareSize: 1280, bigEndian: true, tagEcc: false }],
  ];
  for (const [name, want] of variants) {
    test(`${name}: ${want.pageSize}+${want.spareSize}, ${want.bigEndian ? 'big' : 'little'}-endian, tag ECC ${want.tagEcc ? 'on' : 'off'}, detected and read`, () => {
      const img = openImage(unpack(name), { readOnly: true });
      try {
        const f = img.format;
        assert.deepEqual({ pageSize: f.pageSize, spareSize: f.spareSize, bigEndian: f.bigEndian, tagEcc: f.tagEcc }, want);
        assert.equal(f.layout, 'mkyaffs2');
        assert.equal(f.confidence, 'high');
        checkEdits(img.fs, name);
      } finally {
        img.close();
      }
    });
  }

  test('a format forced wrong is refused, not misread', () => {
    assert.throws(
      () => openImage(unpack('upstream-edits-be.img'), { readOnly: true, bigEndian: false }),
      (e: unknown) => isYaffs2Error(e, 'UNKNOWN_LAYOUT'),
    );
  });

  test('fsck reports a chunk kept past a file size', () => {
    const img = openImage(unpack('upstream-edits.img'), { readOnly: true });
    try {
      // Fault injection: shrink a file in memory as a scan that ignored the newest header's size
      // would have left it the other way round (chunks past the size).
      const dev = (img.fs as unknown as { dev: { objects: Map<number, { size: number }> } }).dev;
      const id = img.fs.stat('/big').id;
      dev.objects.get(id)!.size = 2048;
      const problems = img.fs.check();
      assert.ok(problems.some((p) => /chunk 2 .* lies past the file size 2048/.test(p)), problems.join('\n'));
    } finally {
      img.close();
    }
  });
});
