/**
 * The project's own writer in every geometry and encoding it supports, read back with nothing
 * but the image: page + spare size, pages per block, spare layout, byte order and tag ECC are
 * detected, and every byte of every file comes back.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { geometryPreset } from '@flashdiff/nand';
import { createImage, openImage } from '../src/index.ts';
import type { SpareLayoutName } from '../src/index.ts';
import { bytes } from './helpers.ts';

let work = '';
before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-geometry-'));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

interface Variant {
  pageSize: number;
  spareSize: number;
  pagesPerBlock: number;
  layout: SpareLayoutName;
  bigEndian: boolean;
  tagEcc: boolean;
}

const variants: Variant[] = [
  { pageSize: 2048, spareSize: 64, pagesPerBlock: 64, layout: 'mkyaffs2', bigEndian: false, tagEcc: true },
  { pageSize: 2048, spareSize: 64, pagesPerBlock: 128, layout: 'mtd', bigEndian: true, tagEcc: false },
  { pageSize: 4096, spareSize: 128, pagesPerBlock: 64, layout: 'mtd', bigEndian: true, tagEcc: true },
  { pageSize: 4096, spareSize: 224, pagesPerBlock: 128, layout: 'mkyaffs2', bigEndian: false, tagEcc: false },
  { pageSize: 8192, spareSize: 256, pagesPerBlock: 64, layout: 'mtd', bigEndian: false, tagEcc: true },
  { pageSize: 8192, spareSize: 448, pagesPerBlock: 128, layout: 'mkyaffs2', bigEndian: true, tagEcc: true },
  { pageSize: 16384, spareSize: 512, pagesPerBlock: 64, layout: 'mtd', bigEndian: true, tagEcc: false },
  { pageSize: 16384, spareSize: 1280, pagesPerBlock: 32, layout: 'mkyaffs2', bigEndian: false, tagEcc: true },
];

describe('every geometry and encoding, written and detected', () => {
  for (const v of variants) {
    const label = `${v.pageSize}+${v.spareSize}, ${v.pagesPerBlock} pages/block, ${v.layout}, ${v.bigEndian ? 'big' : 'little'}-endian, tag ECC ${v.tagEcc ? 'on' : 'off'}`;
    test(label, () => {
      const image = path.join(work, `${v.pageSize}-${v.spareSize}-${v.pagesPerBlock}-${v.layout}-${v.bigEndian}-${v.tagEcc}.img`);
      const geometry = { ...geometryPreset('yaffs2-2k'), pageSize: v.pageSize, spareSize: v.spareSize, pagesPerBlock: v.pagesPerBlock };
      const blockBytes = v.pageSize * v.pagesPerBlock;
      // Enough data to fill more than two blocks, so that block boundaries show.
      const files = new Map<string, Uint8Array>([
        ['/a', bytes(Math.floor(blockBytes * 1.3), 1)],
        ['/dir/b', bytes(Math.floor(blockBytes * 0.9) + 17, 2)],
        ['/dir/c', bytes(v.pageSize - 1, 3)],
      ]);
      const img = createImage(image, { blocks: 8, geometry, layout: v.layout, bigEndian: v.bigEndian, tagEcc: v.tagEcc, checkpoint: false, headerTags: 'linux' });
      img.fs.mkdir('/dir');
      for (const [p, data] of files) img.fs.writeFile(p, data);
      img.fs.symlink('dir/b', '/link');
      img.close();
      const back = openImage(image, { readOnly: true });
      try {
        const f = back.format;
        assert.deepEqual(
          { pageSize: f.pageSize, spareSize: f.spareSize, pagesPerBlock: f.pagesPerBlock, layout: f.layout, bigEndian: f.bigEndian, tagEcc: f.tagEcc },
          v,
          f.notes.join('\n'),
        );
        assert.equal(f.confidence, 'high', f.notes.join('\n'));
        for (const [p, data] of files) assert.deepEqual(back.fs.readFile(p), data, p);
        assert.equal(back.fs.readlink('/link'), 'dir/b');
        assert.deepEqual(back.fs.check(), []);
      } finally {
        back.close();
      }
    });
  }

  test('a file given as a source is written a chunk at a time (no whole-file buffer)', () => {
    const image = path.join(work, 'streamed.img');
    const img = createImage(image, { blocks: 40, checkpoint: false, headerTags: 'mkyaffs2' });
    const size = 3 * 1024 * 1024 + 5;
    const byteAt = (i: number): number => (i * 31 + (i >>> 11)) & 0xff;
    let largestRead = 0;
    img.fs.createObject('/big', {
      type: 'file',
      source: {
        size,
        read: (position, into) => {
          largestRead = Math.max(largestRead, into.length);
          for (let i = 0; i < into.length; i++) into[i] = byteAt(position + i);
          return into.length;
        },
      },
    });
    img.close();
    assert.equal(largestRead, 2048);
    const back = openImage(image, { readOnly: true });
    const data = back.fs.readFile('/big');
    back.close();
    assert.equal(data.length, size);
    for (let i = 0; i < size; i += 4093) assert.equal(data[i], byteAt(i), `byte ${i}`);
    assert.equal(data[size - 1], byteAt(size - 1));
  });
});
