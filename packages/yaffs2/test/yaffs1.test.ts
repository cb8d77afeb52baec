/**
 * YAFFS1 (512 + 16-byte pages, tags in upstream's struct yaffs_spare; src/tags1.ts): the spare
 * layout field by field against upstream's mkyaffsimage, images written by the real YAFFS1
 * (deletion marks, serial numbers, GC), round trips, detection, tag and data ECC, damaged input.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { geometryPreset, hammingEcc } from '@flashdiff/nand';
import { editImage, emptyTags, extractTree, importTree, isYaffs2Error, openImage, packTags1, unpackTags1, YAFFS1_TAG_BYTE_OFFSETS } from '../src/index.ts';
import { makeFixtureTree } from './fixtures/fixture-tree.ts';
import { compareHostTrees } from './helpers.ts';
import { assertChurnResult, churnExpected, editsExpected, fill } from './upstream-scenarios.ts';

const PAGE = 512;
const RECORD = 528;
let work = '';

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-yaffs1-'));
  makeFixtureTree(path.join(work, 'tree'));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

function fixture(name: string): Buffer {
  return zlib.gunzipSync(fs.readFileSync(new URL(`./fixtures/upstream/${name}.gz`, import.meta.url)));
}
function unpack(name: string, bytes: Uint8Array = fixture(name)): string {
  const image = path.join(work, `${name}-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(image, bytes);
  return image;
}
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('the YAFFS1 spare (struct yaffs_spare, yaffs_tags)', () => {
  test('the root header mkyaffsimage wrote, byte by byte, as the documented layout says', () => {
    // Root directory header: object 1, chunk 0, byte count 0xFFFF stored as its low 10 bits.
    // Little-endian word 0 = chunk id | serial << 20 | bytes << 22 = 0xFFC00000;
    // word 1 = object id | ECC << 18 | 3 << 30 with ECC 0x069 (XOR of the one-bit positions of
    // 00 00 C0 FF 01 00 00 C0: 23^24^25^…^32^33^63^64 = 0x69) = 0xC1A40001.
    const le = fixture('mkyaffsimage-tree.img').subarray(PAGE, RECORD);
    assert.deepEqual([le[0], le[1], le[2], le[3]], [0x00, 0x00, 0xc0, 0xff], 'tb0-3 at spare 0-3');
    assert.equal(le[4], 0xff, 'page status at 4: live');
    assert.equal(le[5], 0xff, 'block status at 5: good');
    assert.deepEqual([le[6], le[7]], [0x01, 0x00], 'tb4-5 at spare 6-7');
    assert.deepEqual([le[11], le[12]], [0xa4, 0xc1], 'tb6-7 at spare 11-12');
    // Big-endian (mkyaffsimage convert): fields from the top bit: word 0 = chunk << 12 |
    // serial << 10 | bytes = 0x000003FF, word 1 = object << 14 | ECC << 2 | 3 = 0x0000403F.
    const be = fixture('mkyaffsimage-tree-be.img').subarray(PAGE, RECORD);
    assert.deepEqual([be[0], be[1], be[2], be[3], be[6], be[7], be[11], be[12]], [0x00, 0x00, 0x03, 0xff, 0x00, 0x00, 0x40, 0x3f]);
    for (const [spare, bigEndian] of [[le, false], [be, true]] as const) {
      const ours = new Uint8Array(16).fill(0xff);
      packTags1(ours, 1, 0, 0xffff, 0, bigEndian);
      for (const o of YAFFS1_TAG_BYTE_OFFSETS) assert.equal(ours[o], spare[o], `tag byte at ${o}`);
      const t = unpackTags1(Uint8Array.from(spare), emptyTags(), bigEndian);
      assert.deepEqual([t.objectId, t.chunkId, t.byteCount, t.serialNumber, t.deleted, t.eccResult], [1, 0, 0x3ff, 0, false, 'ok']);
    }
  });

  test('our packing and data ECC reproduce every spare mkyaffsimage wrote (both byte orders)', () => {
    for (const [name, bigEndian] of [['mkyaffsimage-tree.img', false], ['mkyaffsimage-tree-be.img', true]] as const) {
      const image = fixture(name);
      const tags = emptyTags();
      let checked = 0;
      for (let at = 0; at + RECORD <= image.length; at += RECORD) {
        const spare = Uint8Array.from(image.subarray(at + PAGE, at + RECORD));
        unpackTags1(spare.slice(), tags, bigEndian);
        assert.equal(tags.eccResult, 'ok');
        const ours = new Uint8Array(16).fill(0xff);
        packTags1(ours, tags.objectId, tags.chunkId, tags.byteCount, tags.serialNumber, bigEndian);
        // Data ECC of each 256-byte half at 8-10 and 13-15 (yaffs_ecc_calc, SmartMedia order).
        hammingEcc.encode(image, at, ours, 8);
        hammingEcc.encode(image, at + 256, ours, 13);
        assert.equal(hex(ours), hex(spare), `${name} page ${at / RECORD}`);
        checked++;
      }
      assert.equal(checked, 450);
    }
  });

  test('every single flipped tag bit is corrected; two are detected where the code can tell', () => {
    for (const bigEndian of [false, true]) {
      const spare = new Uint8Array(16).fill(0xff);
      packTags1(spare, 0x2abcd, 0x54321, 300, 2, bigEndian);
      // Bit positions (over the 8 tag bytes, in stored order) that are not the ECC field.
      const eccBits = bigEndian ? [48, 49, 50, 51, 52, 53, 58, 59, 60, 61, 62, 63] : [50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61];
      let flips = 0;
      for (let bit = 0; bit < 64; bit++) {
        if (eccBits.includes(bit)) continue;
        const s = spare.slice();
        const o = YAFFS1_TAG_BYTE_OFFSETS[bit >> 3]!;
        s[o] = s[o]! ^ (1 << (bit & 7));
        const t = unpackTags1(s, emptyTags(), bigEndian);
        assert.equal(t.eccResult, 'fixed', `bit ${bit}`);
        assert.deepEqual([t.objectId, t.chunkId, t.byteCount, t.serialNumber], [0x2abcd, 0x54321, 300, 2], `bit ${bit}`);
        flips++;
      }
      assert.equal(flips, 52);
      // Two flips are caught only when their syndrome exceeds 64 (upstream's code is no
      // stronger): here a data bit and the ECC's top bit (tag byte 7 bit 5 little-endian, byte 6
      // bit 5 big-endian).
      const s = spare.slice();
      s[0] = s[0]! ^ 1;
      if (bigEndian) s[11] = s[11]! ^ 0x20;
      else s[12] = s[12]! ^ 0x20;
      assert.equal(unpackTags1(s, emptyTags(), bigEndian).eccResult, 'unfixed');
    }
  });
});

describe('YAFFS1 images', () => {
  for (const [name, bigEndian] of [['mkyaffsimage-tree.img', false], ['mkyaffsimage-tree-be.img', true]] as const) {
    test(`${name} (mkyaffsimage) is detected and extracts byte-exact against the fixture tree`, () => {
      const img = openImage(unpack(name), { readOnly: true });
      try {
        const f = img.format;
        assert.deepEqual([f.layout, f.pageSize, f.spareSize, f.pagesPerBlock, f.bigEndian, f.confidence], ['yaffs1', 512, 16, 32, bigEndian, 'high']);
        assert.deepEqual(img.fs.mountProblems, []);
        assert.deepEqual(img.fs.check(), []);
        const out = path.join(work, `out-${name}`);
        extractTree(img.fs, out);
        compareHostTrees(path.join(work, 'tree'), out);
      } finally {
        img.close();
      }
    });
  }

  test('written by the real YAFFS1: truncations, O_TRUNC, renames, unlink, chunks marked deleted', () => {
    const img = openImage(unpack('upstream-yaffs1-edits.img'), { readOnly: true });
    try {
      assert.equal(img.format.layout, 'yaffs1');
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

  test('written by the real YAFFS1: sixty rewrites through its garbage collector', () => {
    const img = openImage(unpack('upstream-yaffs1-churn.img'), { readOnly: true });
    try {
      assertChurnResult(img.fs);
    } finally {
      img.close();
    }
  });

  test("upstream's stored_endian on a little-endian host (words of little-endian bit fields swapped): detected big-endian, read exactly, fsck clean", () => {
    for (const [name, expected] of [['upstream-yaffs1-edits-stored-be.img', editsExpected()], ['upstream-yaffs1-churn-stored-be.img', churnExpected()]] as const) {
      const img = openImage(unpack(name), { readOnly: true });
      try {
        assert.deepEqual([img.format.layout, img.format.bigEndian, img.format.confidence], ['yaffs1', true, 'high'], name);
        for (const [p, want] of expected) assert.deepEqual(img.fs.readFile(p), want, `${name} ${p}`);
        assert.deepEqual(img.fs.mountProblems, [], name);
        assert.deepEqual(img.fs.check(), [], name);
      } finally {
        img.close();
      }
    }
  });

  test('stored_endian tags: the words of the little-endian layout swapped; one flipped bit is corrected', () => {
    const image = fixture('upstream-yaffs1-edits-stored-be.img');
    const spare = Uint8Array.from(image.subarray(PAGE, RECORD));
    // The root directory's first child header: tag bytes 00 10 00 00 | C1 88 01 01 = the
    // little-endian layout's words 0x00100000 (chunk 0, serial 1) and 0xC1880101 (object 257,
    // byte count high bits 3) stored big-endian.
    assert.equal(hex(Uint8Array.from(YAFFS1_TAG_BYTE_OFFSETS.map((o) => spare[o]!))), '00100000c1880101');
    const clean = unpackTags1(spare.slice(), emptyTags(), true);
    assert.deepEqual([clean.objectId, clean.chunkId, clean.serialNumber, clean.eccResult], [257, 0, 1, 'ok']);
    const hit = spare.slice();
    hit[1] = hit[1]! ^ 0x04; // a chunk-id bit
    const fixed = unpackTags1(hit, emptyTags(), true);
    assert.deepEqual([fixed.objectId, fixed.chunkId, fixed.serialNumber, fixed.eccResult], [257, 0, 1, 'fixed']);
    assert.deepEqual(hit, spare);
  });

  for (const bigEndian of [false, true]) {
    test(`import → detect → extract round trip, ${bigEndian ? 'big' : 'little'}-endian; an edit keeps the format`, () => {
      const image = path.join(work, `ours-${bigEndian ? 'be' : 'le'}.img`);
      importTree(path.join(work, 'tree'), image, { layout: 'yaffs1', geometry: { ...geometryPreset('yaffs2-2k'), pageSize: 512, spareSize: 16, pagesPerBlock: 32 }, bigEndian });
      assert.equal(fs.statSync(image).size % (32 * RECORD), 0);
      let img = openImage(image, { readOnly: true });
      assert.deepEqual([img.format.layout, img.format.bigEndian, img.format.confidence], ['yaffs1', bigEndian, 'high']);
      const out = path.join(work, `ours-out-${bigEndian}`);
      extractTree(img.fs, out);
      img.close();
      compareHostTrees(path.join(work, 'tree'), out);
      editImage(image, [{ kind: 'put', path: '/added', content: fill(1300, 3) }, { kind: 'rm', path: '/size-2049' }]);
      img = openImage(image, { readOnly: true });
      try {
        assert.deepEqual([img.format.layout, img.format.bigEndian], ['yaffs1', bigEndian]);
        assert.deepEqual(img.fs.readFile('/added'), fill(1300, 3));
        assert.throws(() => img.fs.stat('/size-2049'), (e: unknown) => isYaffs2Error(e, 'ENOENT'));
        assert.deepEqual(img.fs.check(), []);
      } finally {
        img.close();
      }
    });
  }

  test('of two live copies, the later wins only when its serial number is the earlier one + 1', () => {
    const image = fixture('mkyaffsimage-tree.img');
    // A power cut between writing a new copy and marking the old deleted: append a renamed copy
    // of /size-1's header (and a changed copy of its data chunk) after the last written page.
    const pageOf = (objectId: number, chunkId: number): number => {
      const t = emptyTags();
      for (let p = 0; (p + 1) * RECORD <= image.length; p++) {
        unpackTags1(Uint8Array.from(image.subarray(p * RECORD + PAGE, (p + 1) * RECORD)), t, false);
        if (!t.erased && t.objectId === objectId && t.chunkId === chunkId) return p;
      }
      throw new Error('not found');
    };
    const readId = openImage(unpack('mkyaffsimage-tree.img', image), { readOnly: true });
    const id = readId.fs.stat('/size-2047').id;
    readId.close();
    const copy = (serial: number): Buffer => {
      const out = Buffer.concat([image, Buffer.alloc(2 * RECORD, 0xff)]);
      const at = image.length;
      const header = Buffer.from(image.subarray(pageOf(id, 0) * RECORD, pageOf(id, 0) * RECORD + PAGE));
      header.fill(0, 10, 10 + 256);
      header.write('renamed', 10);
      const data = Buffer.from(image.subarray(pageOf(id, 1) * RECORD, pageOf(id, 1) * RECORD + PAGE));
      data[0] = data[0]! ^ 0xff;
      for (const [k, bytes] of [[0, header], [1, data]] as const) {
        const spare = new Uint8Array(16).fill(0xff);
        packTags1(spare, id, k, k === 0 ? 0xffff : 512, serial, false);
        hammingEcc.encode(bytes, 0, spare, 8);
        hammingEcc.encode(bytes, 256, spare, 13);
        bytes.copy(out, at + k * RECORD);
        out.set(spare, at + k * RECORD + PAGE);
      }
      return out;
    };
    const original = fixture('mkyaffsimage-tree.img');
    const first = original.subarray(pageOf(id, 1) * RECORD, pageOf(id, 1) * RECORD + 512)[0]!;
    for (const [serial, later] of [[1, true], [2, false], [0, false]] as const) {
      const img = openImage(unpack('serial', copy(serial)), { readOnly: true });
      try {
        const names = img.fs.readdir('/').map((e) => e.name);
        assert.equal(names.includes('renamed'), later, `serial ${serial}: the later header`);
        assert.equal(names.includes('size-2047'), !later, `serial ${serial}: the earlier header`);
        const content = img.fs.readFile(later ? '/renamed' : '/size-2047');
        assert.equal(content[0], later ? first ^ 0xff : first, `serial ${serial}: data chunk 1`);
        assert.deepEqual(img.fs.check(), []);
      } finally {
        img.close();
      }
    }
  });
});

describe('damaged or misused YAFFS1 images', () => {
  test('a flipped data bit is corrected by the data ECC; uncorrectable tags are reported, not skipped silently', () => {
    const image = fixture('mkyaffsimage-tree.img');
    const openWith = (edit: (b: Buffer) => void): ReturnType<typeof openImage> => {
      const b = Buffer.from(image);
      edit(b);
      return openImage(unpack('damaged', b), { readOnly: true, layout: 'yaffs1' });
    };
    const ok = openImage(unpack('mkyaffsimage-tree.img'), { readOnly: true });
    const id = ok.fs.stat('/size-6244').id;
    const want = ok.fs.readFile('/size-6244');
    ok.close();
    const t = emptyTags();
    let headerPage = -1;
    let dataPage = -1;
    for (let p = 0; (p + 1) * RECORD <= image.length; p++) {
      unpackTags1(Uint8Array.from(image.subarray(p * RECORD + PAGE, (p + 1) * RECORD)), t, false);
      if (t.objectId === id && t.chunkId === 0) headerPage = p;
      if (t.objectId === id && t.chunkId === 3) dataPage = p;
    }
    let img = openWith((b) => {
      b[dataPage * RECORD + 300] = b[dataPage * RECORD + 300]! ^ 0x10;
    });
    assert.deepEqual(img.fs.readFile('/size-6244'), want);
    assert.equal(img.fs.stats.dataEccCorrected, 1);
    img.close();
    img = openWith((b) => {
      // Positions 1 and 64 of the tag bits: a syndrome past 64, uncorrectable.
      b[headerPage * RECORD + PAGE] = b[headerPage * RECORD + PAGE]! ^ 1;
      b[headerPage * RECORD + PAGE + 12] = b[headerPage * RECORD + PAGE + 12]! ^ 0x80;
    });
    try {
      assert.throws(() => img.fs.stat('/size-6244'), (e: unknown) => isYaffs2Error(e, 'ENOENT'));
      const problems = img.fs.mountProblems.join('\n');
      assert.match(problems, /uncorrectable tags/);
      assert.match(problems, new RegExp(`object ${id}: \\d+ data chunk\\(s\\) but no readable header; dropped`));
    } finally {
      img.close();
    }
  });

  test('a torn last page opens read-only and says so; garbage forced as YAFFS1 is refused; writable opens are refused', () => {
    const image = fixture('mkyaffsimage-tree.img');
    const torn = openImage(unpack('torn', image.subarray(0, 100 * RECORD + 300)), { readOnly: true });
    try {
      assert.equal(torn.format.layout, 'yaffs1');
      assert.match(torn.fs.mountProblems[0]!, /ends 300 bytes into page 100/);
    } finally {
      torn.close();
    }
    const garbage = Buffer.alloc(64 * RECORD);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 131 + (i >> 9) * 7) & 0xff;
    assert.throws(
      () => openImage(unpack('garbage', garbage), { readOnly: true, layout: 'yaffs1' }),
      (e: unknown) => isYaffs2Error(e, 'UNKNOWN_LAYOUT') && /no page size, spare layout/.test((e as Error).message),
    );
    assert.throws(
      () => openImage(unpack('mkyaffsimage-tree.img'), { readOnly: false }),
      (e: unknown) => isYaffs2Error(e, 'EROFS') && /YAFFS1 images mount read-only/.test((e as Error).message),
    );
  });
});
