/**
 * Data-ECC byte orders of the mtd layout: SmartMedia's (yaffs_ecc_calc), Linux nand_ecc.c's
 * default (the two line-parity bytes swapped) and none (all 0xFF): written, detected, checked.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { geometryPreset, hammingEcc } from '@flashdiff/nand';
import { emptyTags, extractTree, importTree, openImage, unpackTags } from '../src/index.ts';
import type { DataEccOrder } from '../src/index.ts';
import { makeFixtureTree } from './fixtures/fixture-tree.ts';

let work = '';
before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-data-ecc-'));
  makeFixtureTree(path.join(work, 'tree'));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

const RECORD = 2048 + 64;
/** Spare offset of the first sector's 3 ECC bytes in the mtd layout (nand_oob_64: ECC at 40-63). */
const ECC_AT = 40;

function imageWith(order: DataEccOrder): string {
  const image = path.join(work, `${order}.img`);
  if (!fs.existsSync(image)) importTree(path.join(work, 'tree'), image, { layout: 'mtd', dataEcc: order, geometry: geometryPreset('yaffs2-2k') });
  return image;
}

describe('data ECC byte orders (mtd layout)', () => {
  test('each order stores the SmartMedia code as documented: as is, line-parity bytes swapped, or 0xFF', () => {
    const code = new Uint8Array(3);
    for (const order of ['smartmedia', 'linux', 'none'] as const) {
      const bytes = fs.readFileSync(imageWith(order));
      for (let page = 0; page < 4; page++) {
        for (let sector = 0; sector < 8; sector++) {
          hammingEcc.encode(bytes, page * RECORD + sector * 256, code, 0);
          const at = page * RECORD + 2048 + ECC_AT + 3 * sector;
          const stored = [...bytes.subarray(at, at + 3)];
          const want = order === 'smartmedia' ? [code[0], code[1], code[2]] : order === 'linux' ? [code[1], code[0], code[2]] : [0xff, 0xff, 0xff];
          assert.deepEqual(stored, want, `${order} page ${page} sector ${sector}`);
        }
      }
    }
  });

  for (const order of ['smartmedia', 'linux', 'none'] as const) {
    test(`${order}: detected from the image, read back, and (with ECC) a flipped data bit corrected`, () => {
      const image = imageWith(order);
      const bytes = fs.readFileSync(image);
      // Flip one bit inside the data of the first data chunk holding 1000 bytes or more.
      const tags = emptyTags();
      let page = 0;
      for (; ; page++) {
        unpackTags(bytes.subarray(page * RECORD + 2048, (page + 1) * RECORD), 2, tags);
        if (!tags.erased && tags.chunkId >= 1 && tags.byteCount >= 1000) break;
      }
      bytes[page * RECORD + 700] = bytes[page * RECORD + 700]! ^ 0x08;
      const damaged = path.join(work, `${order}-flipped.img`);
      fs.writeFileSync(damaged, bytes);
      const img = openImage(damaged, { readOnly: true });
      try {
        assert.equal(img.format.dataEcc, order);
        assert.match(img.format.notes.join('\n'), order === 'none' ? /data ECC absent/ : new RegExp(`data ECC in ${order === 'linux' ? 'Linux' : 'SmartMedia'}`));
        const out = path.join(work, `out-${order}`);
        extractTree(img.fs, out);
        const files = (fs.readdirSync(path.join(work, 'tree'), { recursive: true }) as string[]).filter((f) => fs.lstatSync(path.join(work, 'tree', f)).isFile());
        const differing = files.filter((f) => !fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(work, 'tree', f))));
        if (order === 'none') {
          // Nothing to correct with: the flipped bit reaches the file.
          assert.equal(img.fs.stats.dataEccCorrected, 0);
          assert.equal(differing.length, 1);
        } else {
          assert.equal(img.fs.stats.dataEccCorrected, 1);
          assert.deepEqual(differing, []);
        }
        assert.deepEqual(img.fs.mountProblems, []);
      } finally {
        img.close();
      }
    });
  }

  test('an order forced wrong is not silent: every read fails its ECC and is reported', () => {
    const img = openImage(imageWith('linux'), { readOnly: true, dataEcc: 'smartmedia' });
    try {
      assert.ok(img.fs.mountProblems.length > 0 || img.fs.stats.dataEccUncorrectable > 0, 'problems expected');
    } finally {
      img.close();
    }
  });
});
