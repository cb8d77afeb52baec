/**
 * Inband tags (upstream's `inband_tags`): the 16 tag bytes (packed tags 2 without ECC) at the
 * end of every page, chunks of page size − 16. The layout byte by byte against images written by
 * the real YAFFS2, their contents, detection, round trips, and damaged input.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { geometryPreset } from '@flashdiff/nand';
import { editImage, emptyTags, extractTree, importTree, isYaffs2Error, openImage, packTags, unpackTags } from '../src/index.ts';
import type { Yaffs2 } from '../src/index.ts';
import { makeFixtureTree } from './fixtures/fixture-tree.ts';
import { assertChurnResult, editsExpected, fill } from './upstream-scenarios.ts';

let work = '';
before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-inband-'));
  makeFixtureTree(path.join(work, 'tree'));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

function fixture(name: string): Buffer {
  return zlib.gunzipSync(fs.readFileSync(new URL(`./fixtures/upstream/${name}.gz`, import.meta.url)));
}
let serial = 0;
function write(bytes: Uint8Array): string {
  const image = path.join(work, `image-${serial++}.img`);
  fs.writeFileSync(image, bytes);
  return image;
}
const u32le = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
const u32be = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

function checkEdits(yfs: Yaffs2): void {
  for (const [p, want] of editsExpected()) assert.deepEqual(yfs.readFile(p), want, p);
  assert.deepEqual(yfs.readdir('/d').map((e) => e.name), ['grow', 'otrunc', 'trunc']);
  assert.deepEqual(yfs.readdir('/h').map((e) => e.name), ['link', 'plain', 'sym', 'target']);
  assert.equal(yfs.readlink('/h/sym'), '../d/trunc');
  assert.equal(yfs.stat('/').mode & 0o777, 0o777);
  assert.deepEqual(yfs.mountProblems, []);
  assert.deepEqual(yfs.check(), []);
}

describe('inband tags', () => {
  test('the first page upstream wrote: tags in its last 16 bytes, spare untouched', () => {
    const image = fixture('upstream-inband-edits.img');
    const page = image.subarray(0, 2048);
    // mkdir /d: the directory's header, Linux-style header tags.
    assert.equal(u32le(page, 0), 3, 'header @0: object type 3 (directory)');
    assert.equal(u32le(page, 2032), 0x1001, 'tags @2032: sequence number');
    assert.equal(u32le(page, 2036), 0x30000101, 'tags @2036: object id 0x101, type 3 in bits 28-31');
    assert.equal(u32le(page, 2040), 0x80000001, 'tags @2040: header flag | parent 1');
    assert.equal(u32le(page, 2044), 0, 'tags @2044: size 0');
    assert.ok(image.subarray(2048, 2112).every((b) => b === 0xff), 'the spare is never written');
    const be = fixture('upstream-inband-edits-4k-be.img');
    assert.equal(u32be(be, 4080), 0x1001);
    assert.equal(u32be(be, 4084), 0x30000101);
  });

  test('our packing reproduces every inband tag upstream wrote', () => {
    for (const [name, pageSize, spareSize, bigEndian] of [['upstream-inband-edits.img', 2048, 64, false], ['upstream-inband-edits-4k-be.img', 4096, 128, true]] as const) {
      const image = fixture(name);
      const format = { bigEndian, tagEcc: false };
      const tags = emptyTags();
      let checked = 0;
      for (let at = 0; at + pageSize + spareSize <= image.length; at += pageSize + spareSize) {
        const stored = Uint8Array.from(image.subarray(at + pageSize - 16, at + pageSize));
        unpackTags(stored, 0, tags, format);
        if (tags.erased) continue;
        const ours = new Uint8Array(16).fill(0xff);
        const extra = tags.extraAvailable
          ? { parentId: tags.extraParentId, objectType: tags.extraObjectType, isShrink: tags.extraIsShrink, shadows: tags.extraShadows, fileSizeOrEquiv: tags.extraFileSizeOrEquiv }
          : null;
        packTags(ours, 0, tags.sequenceNumber, tags.objectId, tags.chunkId, tags.byteCount, extra, format);
        assert.deepEqual(ours, stored, `${name} page ${at / (pageSize + spareSize)}`);
        checked++;
      }
      assert.ok(checked > 50, `${name}: ${checked}`);
    }
  });

  for (const [name, pageSize, bigEndian] of [['upstream-inband-edits.img', 2048, false], ['upstream-inband-edits-4k-be.img', 4096, true]] as const) {
    test(`${name} (the real YAFFS2): detected, and every edit reads back`, () => {
      const img = openImage(write(fixture(name)), { readOnly: true });
      try {
        const f = img.format;
        assert.deepEqual([f.inbandTags, f.tagEcc, f.pageSize, f.bigEndian, f.layout, f.confidence], [true, false, pageSize, bigEndian, 'mkyaffs2', 'high']);
        assert.equal(img.fs.chunkSize, pageSize - 16);
        checkEdits(img.fs);
      } finally {
        img.close();
      }
    });
  }

  test('upstream-inband-churn.img: sixty rewrites through GC', () => {
    const img = openImage(write(fixture('upstream-inband-churn.img')), { readOnly: true });
    try {
      assertChurnResult(img.fs);
    } finally {
      img.close();
    }
  });

  for (const [layout, bigEndian] of [['mkyaffs2', false], ['mtd', true]] as const) {
    test(`import → detect → extract round trip (${layout}, ${bigEndian ? 'big' : 'little'}-endian); an edit keeps inband tags`, () => {
      const image = path.join(work, `ours-${layout}.img`);
      importTree(path.join(work, 'tree'), image, { layout, bigEndian, inbandTags: true, geometry: geometryPreset('yaffs2-2k') });
      let img = openImage(image, { readOnly: true });
      const out = path.join(work, `out-${layout}`);
      try {
        assert.deepEqual([img.format.inbandTags, img.format.layout, img.format.bigEndian, img.format.confidence], [true, layout, bigEndian, 'high']);
        extractTree(img.fs, out);
      } finally {
        img.close();
      }
      for (const [rel, stat] of [['size-6244', 6244], ['dir/large-200000', 200000]] as const) {
        assert.equal(fs.statSync(path.join(out, rel)).size, stat);
        assert.deepEqual(fs.readFileSync(path.join(out, rel)), fs.readFileSync(path.join(work, 'tree', rel)));
      }
      editImage(image, [{ kind: 'put', path: '/added', content: fill(5000, 1) }]);
      img = openImage(image, { readOnly: true });
      try {
        assert.deepEqual([img.format.inbandTags, img.format.layout], [true, layout]);
        assert.deepEqual(img.fs.readFile('/added'), fill(5000, 1));
        assert.deepEqual(img.fs.check(), []);
      } finally {
        img.close();
      }
    });
  }

  test('mtd layout: the data ECC covers the inband tags; damage elsewhere is reported', () => {
    const image = path.join(work, 'ecc.img');
    importTree(path.join(work, 'tree'), image, { layout: 'mtd', inbandTags: true, geometry: geometryPreset('yaffs2-2k') });
    const good = fs.readFileSync(image);
    // A flipped bit in the first page's tags (object id): corrected by the data ECC.
    const flipped = Buffer.from(good);
    flipped[2036] = flipped[2036]! ^ 0x04;
    let img = openImage(write(flipped), { readOnly: true });
    try {
      assert.deepEqual(img.fs.mountProblems, []);
      assert.ok(img.fs.stats.dataEccCorrected >= 1);
      assert.deepEqual(img.fs.check(), []);
    } finally {
      img.close();
    }
    // Forcing inband tags on an image without them: refused, not misread.
    const plain = path.join(work, 'plain.img');
    importTree(path.join(work, 'tree'), plain, {});
    assert.throws(
      () => openImage(plain, { readOnly: true, inbandTags: true }),
      (e: unknown) => isYaffs2Error(e, 'UNKNOWN_LAYOUT'),
    );
    // Two bytes of tags destroyed where no ECC covers them (mkyaffs2 layout): said, not silent.
    const bare = path.join(work, 'bare.img');
    importTree(path.join(work, 'tree'), bare, { inbandTags: true, geometry: geometryPreset('yaffs2-2k') });
    const broken = fs.readFileSync(bare);
    broken[2032] = 0x00; // sequence number 0x1000 → 0x1000 & ~0xff: below YAFFS2's range
    broken[2033] = 0x00;
    img = openImage(write(broken), { readOnly: true });
    try {
      assert.ok(img.fs.mountProblems.length > 0);
    } finally {
      img.close();
    }
  });
});
