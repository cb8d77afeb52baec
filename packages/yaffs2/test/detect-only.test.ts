/**
 * detect.ts's detectImageFormatOnly (what `extract` uses: the search stops at the first candidate
 * that reads every examined record) finds the format detectImageFormat finds, on every fixture
 * image (upstream YAFFS2/YAFFS1, yaffs2utils, mkyaffs2image) and on the project's own writer's
 * geometries, with and without forced properties; and the pages-per-block search, which reads
 * clean tags without copying them, still repairs a tag with a flipped bit before it counts.
 * detectFormatFromHead with pagesPerBlockFromSpares (what stream-extract.ts uses: the format
 * from the image's first bytes, pages per block from the spares) gives detectImageFormatOnly's
 * answer or, when the head is too short to be sure, none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { geometryPreset } from '@flashdiff/nand';
import { createImage, detectImageFormat, detectImageFormatOnly } from '../src/index.ts';
import { DETECT_SAMPLE_BYTES, detectFormatFromHead, pagesPerBlockFromSpares } from '../src/detect.ts';
import type { ImageFormat } from '../src/index.ts';
import { bytes } from './helpers.ts';

const fixtures = new URL('./fixtures/', import.meta.url).pathname;

/** The properties that fix how an image reads (what both functions must agree on). */
function formatOf(f: ImageFormat): ImageFormat {
  const { pageSize, spareSize, pagesPerBlock, layout, bigEndian, tagEcc, inbandTags, dataEcc, littleEndianParity } = f;
  return { pageSize, spareSize, pagesPerBlock, layout, bigEndian, tagEcc, inbandTags, dataEcc, littleEndianParity };
}

function fixtureImages(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      if (fs.statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.img.gz')) out.push(p);
    }
  };
  walk(fixtures);
  return out;
}

type Written = Pick<ImageFormat, 'pageSize' | 'spareSize' | 'pagesPerBlock' | 'layout' | 'bigEndian' | 'tagEcc'>;

/** An image by the project's writer in `v`, its bytes. */
function written(work: string, v: Written): Uint8Array {
  const image = path.join(work, `${v.pageSize}-${v.spareSize}-${v.pagesPerBlock}-${v.layout}-${v.bigEndian}-${v.tagEcc}.img`);
  const geometry = { ...geometryPreset('yaffs2-2k'), pageSize: v.pageSize, spareSize: v.spareSize, pagesPerBlock: v.pagesPerBlock };
  const blockBytes = v.pageSize * v.pagesPerBlock;
  const img = createImage(image, { blocks: 8, geometry, layout: v.layout, bigEndian: v.bigEndian, tagEcc: v.tagEcc, checkpoint: false, headerTags: 'linux' });
  img.fs.mkdir('/dir');
  img.fs.writeFile('/a', bytes(Math.floor(blockBytes * 1.3), 1));
  img.fs.writeFile('/dir/b', bytes(Math.floor(blockBytes * 0.9) + 17, 2));
  img.close();
  return new Uint8Array(fs.readFileSync(image));
}

const writtenVariants: Written[] = [
  { pageSize: 2048, spareSize: 64, pagesPerBlock: 64, layout: 'mkyaffs2', bigEndian: false, tagEcc: true },
  { pageSize: 2048, spareSize: 64, pagesPerBlock: 128, layout: 'mtd', bigEndian: true, tagEcc: false },
  { pageSize: 4096, spareSize: 128, pagesPerBlock: 64, layout: 'mtd', bigEndian: true, tagEcc: true },
  { pageSize: 8192, spareSize: 448, pagesPerBlock: 128, layout: 'mkyaffs2', bigEndian: true, tagEcc: true },
];

test('detectImageFormatOnly finds the format detectImageFormat finds, on every fixture and written image, forced or not', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-detect-only-'));
  try {
    const images: [string, Uint8Array][] = fixtureImages().map((p) => [path.relative(fixtures, p), new Uint8Array(zlib.gunzipSync(fs.readFileSync(p)))]);
    for (const v of writtenVariants) images.push([`written ${JSON.stringify(v)}`, written(work, v)]);
    assert.ok(images.length >= 25, `${images.length} images`);
    const forcings: Partial<ImageFormat>[] = [{}, { pagesPerBlock: 64 }, { bigEndian: true }, { layout: 'mtd' }, { tagEcc: false }];
    let stoppedEarly = 0;
    for (const [name, image] of images) {
      for (const force of forcings) {
        const label = `${name} ${JSON.stringify(force)}`;
        let full: ImageFormat | Error;
        try {
          full = detectImageFormat(name, force, image);
        } catch (e) {
          full = e as Error;
        }
        if (full instanceof Error) {
          // Nothing reads: both say so, alike.
          assert.throws(() => detectImageFormatOnly(name, force, image), { message: full.message }, label);
          continue;
        }
        const only = detectImageFormatOnly(name, force, image);
        assert.deepEqual(formatOf(only), formatOf(full), label);
        assert.equal(only.runnerUp, -1, label);
        if (only.examined === 64 && only.plausible === 64) stoppedEarly++;
      }
    }
    // The early stop happened (a clean image's first candidate reads all it examines).
    assert.ok(stoppedEarly > 10, `${stoppedEarly}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('pages per block: a sequence number with a flipped bit is repaired by its tag ECC before it counts', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-detect-only-'));
  try {
    for (const bigEndian of [false, true]) {
      const v: Written = { pageSize: 2048, spareSize: 64, pagesPerBlock: 128, layout: 'mkyaffs2', bigEndian, tagEcc: true };
      const image = written(work, v);
      const record = v.pageSize + v.spareSize;
      assert.equal(detectImageFormat('clean', {}, image).pagesPerBlock, 128);
      // Every programmed block's first page: one bit of its sequence number flipped (tags at spare byte 0).
      let flipped = 0;
      for (let page = 0; (page + 1) * record <= image.length; page += v.pagesPerBlock) {
        const spare = page * record + v.pageSize;
        if (image[spare] === 0xff && image[spare + 1] === 0xff) continue;
        image[spare + (bigEndian ? 3 : 0)]! ^= 0x02;
        flipped++;
      }
      assert.ok(flipped >= 3, `${flipped} blocks`);
      // Unrepaired, the flipped numbers would start blocks of one page; repaired, they are the block's.
      for (const detect of [detectImageFormat, detectImageFormatOnly]) {
        const f = detect('flipped', {}, image);
        assert.equal(f.pagesPerBlock, 128, `${detect.name} ${bigEndian ? 'big' : 'little'}-endian`);
      }
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

/** The spares of the records in the image's first DETECT_SAMPLE_BYTES, one after another (what stream-extract.ts keeps). */
function sparesOf(image: Uint8Array, f: ImageFormat): { spares: Uint8Array; records: number } {
  const record = f.pageSize + f.spareSize;
  const records = Math.floor(Math.min(image.length, DETECT_SAMPLE_BYTES) / record);
  const spares = new Uint8Array(records * f.spareSize);
  for (let i = 0; i < records; i++) spares.set(image.subarray(i * record + f.pageSize, (i + 1) * record), i * f.spareSize);
  return { spares, records };
}

test("detectFormatFromHead and pagesPerBlockFromSpares: detectImageFormatOnly's format from the image's first bytes, or none when they are too few", () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-detect-head-'));
  try {
    const images: [string, Uint8Array][] = fixtureImages().map((p) => [path.relative(fixtures, p), new Uint8Array(zlib.gunzipSync(fs.readFileSync(p)))]);
    for (const v of writtenVariants) images.push([`written ${JSON.stringify(v)}`, written(work, v)]);
    // An image whose first 2.1 MB are erased: its first 2 MiB tell nothing.
    const plain = images[images.length - writtenVariants.length]![1];
    const erasedStart = new Uint8Array(1000 * 2112 + plain.length).fill(0xff);
    erasedStart.set(plain, 1000 * 2112);
    images.push(['erased start', erasedStart]);
    const forcings: Partial<ImageFormat>[] = [{}, { pagesPerBlock: 64 }, { bigEndian: true }, { layout: 'mtd' }, { tagEcc: false }];
    let answered = 0;
    let tooShort = 0;
    for (const [name, image] of images) {
      for (const force of forcings) {
        let only: ImageFormat;
        try {
          only = detectImageFormatOnly(name, force, image, { tagsCheckedLater: true });
        } catch (e) {
          assert.throws(() => detectFormatFromHead(name, force, image.subarray(0, Math.min(image.length, DETECT_SAMPLE_BYTES)), image.length), { message: (e as Error).message }, name);
          continue;
        }
        if (only.inbandTags) continue; // stream-extract.ts leaves inband tags to the general path
        for (const headBytes of [5000, 64 << 10, 2 << 20, DETECT_SAMPLE_BYTES]) {
          const label = `${name} ${JSON.stringify(force)} head ${headBytes}`;
          const head = image.subarray(0, Math.min(image.length, headBytes));
          let found: ImageFormat | null;
          try {
            found = detectFormatFromHead(name, force, head, image.length);
          } catch (e) {
            // A head can fail where the whole sample reads (too few records): only when shorter.
            assert.ok(head.length < Math.min(image.length, DETECT_SAMPLE_BYTES), `${label}: ${(e as Error).message}`);
            tooShort++;
            continue;
          }
          if (found === null) {
            assert.ok(head.length < Math.min(image.length, DETECT_SAMPLE_BYTES), `${label}: no answer from the whole sample`);
            tooShort++;
            continue;
          }
          const { spares, records } = sparesOf(image, found);
          const withBlocks = { ...found, pagesPerBlock: pagesPerBlockFromSpares(spares, records, found, image.length) };
          assert.deepEqual(formatOf(withBlocks), formatOf(only), label);
          answered++;
        }
      }
    }
    assert.ok(answered > 100 && tooShort > 20, `${answered} answered, ${tooShort} too short`);
    // The erased start: 2 MiB are too few, 16 MiB are enough.
    assert.equal(detectFormatFromHead('erased start', {}, erasedStart.subarray(0, 2 << 20), erasedStart.length), null);
    assert.notEqual(detectFormatFromHead('erased start', {}, erasedStart, erasedStart.length), null);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});
