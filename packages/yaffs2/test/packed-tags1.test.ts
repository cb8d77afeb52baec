/**
 * YAFFS1 through Linux MTD (layout `yaffs1-mtd`; tags1.ts's packed tags 1, upstream
 * yaffs_mtdif1.c / yaffs_packedtags1.c): images written by the real YAFFS1 core over upstream's
 * mtdif1 tag handling (deletion marks in the not-deleted bit, garbage collection), by yaffs2utils'
 * mkyaffs2 -p 512 (its not-deleted bit cleared), round trips, and the bit-level layout.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { geometryPreset } from '@flashdiff/nand';
import { editImage, emptyTags, extractTree, importTree, isYaffs2Error, openImage, packPackedTags1, PACKED_TAGS1_OFFSET, unpackPackedTags1 } from '../src/index.ts';
import { FIXTURE_TIME, makeFixtureTree } from './fixtures/fixture-tree.ts';
import { compareHostTrees } from './helpers.ts';
import { assertChurnResult, editsExpected, fill } from './upstream-scenarios.ts';

const PAGE = 512;
const RECORD = 528;
let work = '';
before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-pt1-'));
  makeFixtureTree(path.join(work, 'tree'));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

function fixture(dir: string, name: string): Buffer {
  return zlib.gunzipSync(fs.readFileSync(new URL(`./fixtures/${dir}/${name}.gz`, import.meta.url)));
}
function unpack(bytes: Uint8Array, name: string): string {
  const image = path.join(work, `${name}-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(image, bytes);
  return image;
}

describe('packed tags 1 (YAFFS1 through Linux MTD)', () => {
  test('field layout: the root header mkyaffs2 -p 512 writes, and the not-deleted bit Linux clears to delete', () => {
    // Page 0 of yaffs2utils-512.img: object 257 (a file header), chunk 0, serial 1, byte count
    // 0x3FF; tags bytes 8-15 = 00 00 D0 FF 01 01 A8 00 (LE words 0xFFD00000, 0x00A80101:
    // chunk 0 | serial 1 << 20 | 0x3FF << 22; object 257 | ECC 0x2A << 18 | not-deleted 0 << 30).
    const theirs = fixture('yaffs2utils', 'yaffs2utils-512.img');
    const spare = Uint8Array.from(theirs.subarray(PAGE, RECORD));
    assert.equal(Buffer.from(spare.subarray(8, 16)).toString('hex'), '0000d0ff0101a800');
    const reading = { notDeletedBitCleared: false };
    const t = unpackPackedTags1(spare, emptyTags(), false, reading);
    assert.deepEqual([t.objectId, t.chunkId, t.byteCount, t.serialNumber, t.deleted, t.eccResult, reading.notDeletedBitCleared], [257, 0, 0x3ff, 1, false, 'ok', true]);
    // Ours: the same fields with the not-deleted bit set and the ECC computed so (what Linux's
    // nandmtd1_write_chunk_tags writes): ECC 0x2A ^ 63 (the bit's position) = 0x15, word 1 0x40540101.
    const ours = new Uint8Array(16).fill(0xff);
    packPackedTags1(ours, 257, 0, 0xffff, 1, false);
    assert.equal(Buffer.from(ours.subarray(8, 16)).toString('hex'), '0000d0ff01015440');
    assert.equal(ours[7 + PACKED_TAGS1_OFFSET]! >> 6, 1); // not-deleted 1, unused 0
    // Linux deletes by programming the tags again with only that bit clear: ECC unchanged.
    const deleted = Uint8Array.from(ours);
    deleted[15] = deleted[15]! & ~0x40;
    const d = unpackPackedTags1(deleted, emptyTags(), false, reading);
    assert.deepEqual([d.objectId, d.deleted, d.eccResult, reading.notDeletedBitCleared], [257, true, 'ok', false]);
    // One flipped bit elsewhere is corrected, and the chunk stays live.
    const hit = Uint8Array.from(ours);
    hit[12] = hit[12]! ^ 0x04;
    const h = unpackPackedTags1(hit, emptyTags(), false);
    assert.deepEqual([h.objectId, h.deleted, h.eccResult], [257, false, 'fixed']);
    assert.deepEqual(hit, ours);
  });

  test('every spare of the real YAFFS1 over mtdif1 re-packs byte for byte (live chunks as written, deleted ones with only the bit cleared)', () => {
    const bytes = fixture('upstream', 'upstream-yaffs1-mtd-edits.img');
    let live = 0;
    let deleted = 0;
    for (let at = 0; at + RECORD <= bytes.length; at += RECORD) {
      const spare = Uint8Array.from(bytes.subarray(at + PAGE, at + RECORD));
      const t = unpackPackedTags1(spare.slice(), emptyTags(), false);
      if (t.erased) continue;
      assert.equal(t.eccResult, 'ok');
      const ours = new Uint8Array(16).fill(0xff);
      packPackedTags1(ours, t.objectId, t.chunkId, t.byteCount, t.serialNumber, false);
      if (t.deleted) {
        ours[15] = ours[15]! & ~0x40;
        deleted++;
      } else live++;
      assert.deepEqual(ours.subarray(8, 16), spare.subarray(8, 16), `page ${at / RECORD}`);
    }
    assert.deepEqual([live + deleted, deleted], [259, 112]);
  });

  test('written by the real YAFFS1 over mtdif1: truncations, O_TRUNC, renames, unlink; detected, fsck clean', () => {
    const img = openImage(unpack(fixture('upstream', 'upstream-yaffs1-mtd-edits.img'), 'edits'), { readOnly: true });
    try {
      assert.deepEqual([img.format.layout, img.format.pageSize, img.format.bigEndian, img.format.confidence], ['yaffs1-mtd', 512, false, 'high']);
      for (const [p, want] of editsExpected()) assert.deepEqual(img.fs.readFile(p), want, p);
      assert.deepEqual(img.fs.readdir('/d').map((e) => e.name), ['grow', 'otrunc', 'trunc']);
      assert.deepEqual(img.fs.readdir('/h').map((e) => e.name), ['link', 'plain', 'sym', 'target']);
      assert.equal(img.fs.readlink('/h/sym'), '../d/trunc');
      assert.deepEqual(img.fs.mountProblems, []);
      assert.deepEqual(img.fs.check(), []);
    } finally {
      img.close();
    }
  });

  test('written by the real YAFFS1 over mtdif1: sixty rewrites through its garbage collector', () => {
    const img = openImage(unpack(fixture('upstream', 'upstream-yaffs1-mtd-churn.img'), 'churn'), { readOnly: true });
    try {
      assertChurnResult(img.fs);
    } finally {
      img.close();
    }
  });

  test("yaffs2utils' mkyaffs2 -p 512: detected, its cleared not-deleted bits read as live (and said so), extracts exactly", () => {
    const img = openImage(unpack(fixture('yaffs2utils', 'yaffs2utils-512.img'), 'y2u'), { readOnly: true });
    try {
      assert.deepEqual([img.format.layout, img.format.pageSize, img.format.spareSize, img.format.confidence], ['yaffs1-mtd', 512, 16, 'high']);
      assert.ok(img.format.notes.some((n) => /^449 chunks have the not-deleted bit clear/.test(n)), img.format.notes.join('\n'));
      assert.deepEqual(img.fs.check(), []);
      const out = path.join(work, 'y2u-out');
      extractTree(img.fs, out);
      compareHostTrees(path.join(work, 'tree'), out, { mtime: FIXTURE_TIME });
    } finally {
      img.close();
    }
  });

  for (const bigEndian of [false, true]) {
    test(`import → detect → extract round trip, ${bigEndian ? 'big' : 'little'}-endian; an edit keeps the format`, () => {
      const image = path.join(work, `ours-${bigEndian ? 'be' : 'le'}.img`);
      importTree(path.join(work, 'tree'), image, { layout: 'yaffs1-mtd', geometry: { ...geometryPreset('yaffs2-2k'), pageSize: 512, spareSize: 16, pagesPerBlock: 32 }, bigEndian });
      let img = openImage(image, { readOnly: true });
      assert.deepEqual([img.format.layout, img.format.bigEndian, img.format.confidence], ['yaffs1-mtd', bigEndian, 'high']);
      const out = path.join(work, `ours-out-${bigEndian}`);
      extractTree(img.fs, out);
      img.close();
      compareHostTrees(path.join(work, 'tree'), out, { mtime: FIXTURE_TIME });
      editImage(image, [{ kind: 'put', path: '/added', content: fill(1300, 3) }, { kind: 'rm', path: '/size-2049' }]);
      img = openImage(image, { readOnly: true });
      try {
        assert.deepEqual([img.format.layout, img.format.bigEndian], ['yaffs1-mtd', bigEndian]);
        assert.deepEqual(img.fs.readFile('/added'), fill(1300, 3));
        assert.throws(() => img.fs.stat('/size-2049'), (e: unknown) => isYaffs2Error(e, 'ENOENT'));
        assert.deepEqual(img.fs.check(), []);
      } finally {
        img.close();
      }
    });
  }

  test('the yaffs_spare YAFFS1 images are not mistaken for packed tags 1, nor these for them', () => {
    const spareTagged = openImage(unpack(fixture('upstream', 'upstream-yaffs1-edits.img'), 'spare'), { readOnly: true });
    const packed = openImage(unpack(fixture('upstream', 'upstream-yaffs1-mtd-edits.img'), 'packed'), { readOnly: true });
    try {
      assert.equal(spareTagged.format.layout, 'yaffs1');
      assert.equal(spareTagged.format.runnerUp, 0);
      assert.equal(packed.format.layout, 'yaffs1-mtd');
      assert.equal(packed.format.runnerUp, 0);
    } finally {
      spareTagged.close();
      packed.close();
    }
  });
});
