// Read-only images are read whole (image-bytes.ts) up to a size limit and in 1 MiB windows
// (read-windows.ts) beyond it: both paths read the same tree, attributes and problems, on the
// default layout and on the mtd layout with data ECC (issue 16's speed work must not change
// what is read).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { extractTree, importTree, openImage } from '../src/index.ts';
import type { SpareLayoutName } from '../src/index.ts';
import { bytes, compareHostTrees } from './helpers.ts';

let work = '';
let tree = '';

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-read-paths-'));
  tree = path.join(work, 'tree');
  fs.mkdirSync(path.join(tree, 'sub', 'deeper'), { recursive: true });
  // Sizes around chunk boundaries, and one file past a 1 MiB window.
  [0, 1, 2047, 2048, 2049, 300_000, 1_300_000].forEach((size, i) => {
    fs.writeFileSync(path.join(tree, i % 2 ? 'sub' : 'sub/deeper', `f${i}.bin`), bytes(size, 16 + i));
  });
  fs.symlinkSync('sub/f1.bin', path.join(tree, 'link'));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

describe('read-only images: read whole and read in windows agree', () => {
  for (const layout of ['mkyaffs2', 'mtd'] as SpareLayoutName[]) {
    test(`${layout} layout`, () => {
      const image = path.join(work, `${layout}.img`);
      importTree(tree, image, { layout });
      const results = [undefined, 0].map((wholeImageLimit) => {
        const opened = openImage(image, { readOnly: true, wholeImageLimit });
        try {
          const out = path.join(work, `${layout}-${wholeImageLimit ?? 'whole'}`);
          const extracted = extractTree(opened.fs, out);
          compareHostTrees(tree, out);
          return { extracted, info: opened.fs.info(), problems: [...opened.fs.mountProblems], format: opened.format };
        } finally {
          opened.close();
        }
      });
      assert.equal(results[0]!.extracted.files, 7);
      assert.deepEqual(results[0], results[1]);
    });
  }
});
