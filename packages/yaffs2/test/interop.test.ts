/**
 * Interoperability with the other tools that make and read YAFFS images (yaffs2utils 0.2.9's
 * mkyaffs2/unyaffs2, binwalk's yaffshiv): images they wrote from the fixture tree are detected,
 * read and extracted exactly; our packed tags are byte for byte what they write for the same
 * tags, so their readers take our images (runs recorded in fixtures/yaffs2utils/README.md).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { calcTagEcc, editImage, emptyTags, extractTree, importTree, openImage, packTags, unpackTags } from '../src/index.ts';
import { FIXTURE_TIME, makeFixtureTree } from './fixtures/fixture-tree.ts';
import { compareHostTrees } from './helpers.ts';

let work = '';
before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-interop-'));
  makeFixtureTree(path.join(work, 'tree'));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

function fixture(name: string): Buffer {
  return zlib.gunzipSync(fs.readFileSync(new URL(`./fixtures/yaffs2utils/${name}.gz`, import.meta.url)));
}

interface Variant {
  file: string;
  pageSize: number;
  spareSize: number;
  bigEndian: boolean;
  /** `mkyaffs2` arguments that wrote it (yaffs2utils 0.2.9). */
  made: string;
}

const YAFFS2UTILS: Variant[] = [
  { file: 'yaffs2utils-mtd-2k.img', pageSize: 2048, spareSize: 64, bigEndian: false, made: 'mkyaffs2 tree img' },
  { file: 'yaffs2utils-mtd-2k-be.img', pageSize: 2048, spareSize: 64, bigEndian: true, made: 'mkyaffs2 -e tree img' },
  { file: 'yaffs2utils-mtd-4k.img', pageSize: 4096, spareSize: 128, bigEndian: false, made: 'mkyaffs2 -p 4096 tree img' },
  { file: 'yaffs2utils-mtd-8k.img', pageSize: 8192, spareSize: 256, bigEndian: false, made: 'mkyaffs2 -p 8192 tree img' },
  { file: 'yaffs2utils-mtd-16k.img', pageSize: 16384, spareSize: 512, bigEndian: false, made: 'mkyaffs2 -p 16384 tree img' },
];

describe('yaffs2utils 0.2.9 images (mkyaffs2: tags in the Linux MTD free bytes from spare byte 2)', () => {
  for (const v of YAFFS2UTILS) {
    test(`${v.made}: detected (${v.pageSize}+${v.spareSize}, mtd, ${v.bigEndian ? 'big' : 'little'}-endian, tag ECC, no data ECC), fsck clean, extracts exactly`, () => {
      const image = path.join(work, v.file);
      fs.writeFileSync(image, fixture(v.file));
      const img = openImage(image, { readOnly: true });
      try {
        const f = img.format;
        assert.deepEqual(
          [f.pageSize, f.spareSize, f.layout, f.bigEndian, f.tagEcc, f.inbandTags, f.dataEcc, f.confidence],
          [v.pageSize, v.spareSize, 'mtd', v.bigEndian, true, false, 'none', 'high'],
        );
        assert.deepEqual(img.fs.mountProblems, []);
        assert.deepEqual(img.fs.check(), []);
        const out = path.join(work, `${v.file}-out`);
        extractTree(img.fs, out);
        compareHostTrees(path.join(work, 'tree'), out, { mtime: FIXTURE_TIME, links: true });
      } finally {
        img.close();
      }
    });

    test(`${v.made}: every spare re-packed by packTags is byte for byte what mkyaffs2 wrote (tag ECC line parities in the image's byte order)`, () => {
      const bytes = fixture(v.file);
      const record = v.pageSize + v.spareSize;
      const format = { bigEndian: v.bigEndian, tagEcc: true };
      const tags = emptyTags();
      let pages = 0;
      for (let at = 0; at + record <= bytes.length; at += record) {
        const spare = Uint8Array.from(bytes.subarray(at + v.pageSize, at + record));
        if (spare.every((b) => b === 0xff)) continue;
        unpackTags(spare.slice(), 2, tags, format);
        assert.equal(tags.eccResult, 'ok', `page ${at / record}`);
        const ours = new Uint8Array(v.spareSize).fill(0xff);
        packTags(ours, 2, tags.sequenceNumber, tags.objectId, tags.chunkId, tags.byteCount, null, format);
        // The 3 padding bytes after the column parity: mkyaffs2 leaves 0xFF, mkyaffs2image and
        // we write 0 (struct padding; no reader looks at it).
        assert.deepEqual(Array.from(spare.subarray(19, 22)), [0xff, 0xff, 0xff]);
        ours.set(spare.subarray(19, 22), 19);
        assert.deepEqual(ours, spare, `page ${at / record}`);
        pages++;
      }
      assert.ok(pages >= 20, `${pages} pages checked`);
    });
  }

  test('big-endian tags with little-endian line parities (upstream stored_endian on x86) still read, and one flipped tag bit is corrected in either order', () => {
    const format = { bigEndian: true, tagEcc: true };
    const spare = new Uint8Array(64).fill(0xff);
    packTags(spare, 2, 0x1234, 300, 7, 2048, null, format);
    const swapped = Uint8Array.from(spare);
    for (const o of [22, 26]) swapped.set(Uint8Array.from(spare.subarray(o, o + 4)).reverse(), o);
    assert.notDeepEqual(swapped, spare);
    for (const [label, s] of [['native', spare], ['swapped', swapped]] as const) {
      const clean = unpackTags(s.slice(), 2, emptyTags(), format);
      assert.deepEqual([clean.eccResult, clean.sequenceNumber, clean.objectId, clean.chunkId, clean.byteCount], ['ok', 0x1234, 300, 7, 2048], label);
      const hit = s.slice();
      hit[2 + 5] = hit[2 + 5]! ^ 0x10; // object id's second byte
      const fixed = unpackTags(hit, 2, emptyTags(), format);
      assert.deepEqual([fixed.eccResult, fixed.objectId], ['fixed', 300], label);
    }
  });

  test('our big-endian mtd image carries the line parities big-endian, as mkyaffs2 -e writes them (unyaffs2 -e rejects little-endian ones)', () => {
    const image = path.join(work, 'ours-be.img');
    importTree(path.join(work, 'tree'), image, { layout: 'mtd', bigEndian: true });
    const bytes = fs.readFileSync(image);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let checked = 0;
    let differ = 0;
    for (let page = 0; page < 64; page++) {
      const spare = page * 2112 + 2048;
      if (view.getUint32(spare + 2) === 0xffffffff) continue;
      const ecc = calcTagEcc(bytes, spare + 2, 16);
      assert.deepEqual([bytes[spare + 18], view.getUint32(spare + 22), view.getUint32(spare + 26)], [ecc.colParity, ecc.lineParity, ecc.lineParityPrime], `page ${page}`);
      if (view.getUint32(spare + 22, true) !== ecc.lineParity) differ++;
      checked++;
    }
    assert.ok(checked > 30 && differ > 0, `${checked} pages, ${differ} where the byte order shows`);
  });

  test("--tag-ecc-parity little (upstream yaffs direct's stored_endian on x86): written little-endian, detected, kept by an edit; the two kinds of big-endian image are told apart", () => {
    const parities = (file: string, littleEndian: boolean): { checked: number; matching: number } => {
      const bytes = fs.readFileSync(file);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      let checked = 0;
      let matching = 0;
      for (let page = 0; page < 64; page++) {
        const spare = page * 2112 + 2048;
        if (view.getUint32(spare) === 0xffffffff) continue;
        const ecc = calcTagEcc(bytes, spare, 16);
        if (view.getUint32(spare + 20, littleEndian) === ecc.lineParity && view.getUint32(spare + 24, littleEndian) === ecc.lineParityPrime) matching++;
        checked++;
      }
      return { checked, matching };
    };
    const image = path.join(work, 'ours-be-little.img');
    importTree(path.join(work, 'tree'), image, { bigEndian: true, littleEndianParity: true });
    const written = parities(image, true);
    assert.ok(written.checked > 30 && written.matching === written.checked, JSON.stringify(written));
    let img = openImage(image, { readOnly: true });
    try {
      assert.deepEqual([img.format.bigEndian, img.format.littleEndianParity], [true, true]);
    } finally {
      img.close();
    }
    editImage(image, [{ kind: 'rm', path: '/size-0' }]);
    const edited = parities(image, true);
    assert.ok(edited.checked > 30 && edited.matching === edited.checked, JSON.stringify(edited));
    img = openImage(image, { readOnly: true });
    try {
      assert.deepEqual([img.format.littleEndianParity, img.fs.check()], [true, []]);
    } finally {
      img.close();
    }
    // The real YAFFS2's stored_endian image and mkyaffs2 -e's.
    const upstream = path.join(work, 'upstream-edits-be.img');
    fs.writeFileSync(upstream, zlib.gunzipSync(fs.readFileSync(new URL('./fixtures/upstream/upstream-edits-be.img.gz', import.meta.url))));
    const theirs = path.join(work, 'y2u-be.img');
    fs.writeFileSync(theirs, fixture('yaffs2utils-mtd-2k-be.img'));
    for (const [file, little] of [[upstream, true], [theirs, false]] as const) {
      const opened = openImage(file, { readOnly: true });
      try {
        assert.equal(opened.format.littleEndianParity, little, file);
      } finally {
        opened.close();
      }
    }
  });
});
