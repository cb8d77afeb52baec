/**
 * stream-extract.ts against the general extract (openImage + extractTree over the mounted model):
 * over the committed corpus (mkyaffs2image's image, the real YAFFS2's and yaffs2utils' images)
 * and over images of every YAFFS2 format `import` writes, and images edited in place by the
 * library (truncations, rewrites, renames, hard links, deletions), the trees must be the same.
 * What the stream hands back (null) must leave nothing behind, and damaged images must be
 * handed back, so that the CLI's warnings and exit status are the mount's.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { geometryPreset, sidecarPath } from '@flashdiff/nand';
import { createImage, extractTree, importTree, openImage } from '../src/index.ts';
import type { ImportOptions } from '../src/index.ts';
import { streamExtract } from '../src/stream-extract.ts';
import { makeFixtureTree } from './fixtures/fixture-tree.ts';
import { bytes } from './helpers.ts';
import { sameHostTree } from './raw-tree.ts';

let work = '';
let tree = '';
let n = 0;
const bin = new URL('../bin/yaffs2.js', import.meta.url).pathname;

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-stream-extract-'));
  tree = path.join(work, 'tree');
  makeFixtureTree(tree);
  fs.writeFileSync(path.join(tree, 'dir', 'big-3m'), bytes(3 * 1024 * 1024 + 777, 16));
  fs.writeFileSync(Buffer.concat([Buffer.from(tree + '/'), Buffer.from([0x72, 0x61, 0x77, 0xe9])]), 'raw byte name\n');
  spawnSync('mkfifo', [path.join(tree, 'fifo')]);
});

after(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

/** Extracts `image` both ways; returns whether the stream took it (the trees then must agree). */
function bothWays(image: string): boolean {
  const general = path.join(work, `general-${n}`);
  const stream = path.join(work, `stream-${n++}`);
  const img = openImage(image, { readOnly: true });
  const problems = img.fs.mountProblems.length;
  extractTree(img.fs, general);
  img.close();
  const r = streamExtract(image, stream);
  if (r === null) {
    assert.equal(fs.existsSync(stream), false, 'handed back: nothing written');
    return false;
  }
  assert.equal(problems, 0, 'the stream took an image whose mount reported problems');
  sameHostTree(general, stream);
  return true;
}

function gunzipFixture(rel: string): string {
  const image = path.join(work, path.basename(rel, '.gz'));
  fs.writeFileSync(image, zlib.gunzipSync(fs.readFileSync(new URL(`./fixtures/${rel}`, import.meta.url))));
  return image;
}

const g = (pageSize: number, spareSize: number, pagesPerBlock: number) => ({ ...geometryPreset('yaffs2-2k'), pageSize, spareSize, pagesPerBlock });

describe('stream extract: the same trees as the general extract', () => {
  const formats: [string, ImportOptions][] = [
    ['default', {}],
    ['mtd, smartmedia data ECC', { layout: 'mtd' }],
    ['mtd, linux data ECC, big-endian', { layout: 'mtd', dataEcc: 'linux', bigEndian: true }],
    ['mtd, no data ECC, tag ECC off', { layout: 'mtd', dataEcc: 'none', tagEcc: false }],
    ['big-endian, little-endian parity', { bigEndian: true, littleEndianParity: true }],
    ['4096 + 128', { geometry: g(4096, 128, 128) }],
    ['8192 + 256 mtd', { geometry: g(8192, 256, 32), layout: 'mtd' }],
    ['16384 + 512', { geometry: g(16384, 512, 32) }],
  ];
  for (const [name, options] of formats) {
    test(`import's image: ${name}`, () => {
      const image = path.join(work, `import-${n}.img`);
      importTree(tree, image, options);
      assert.equal(bothWays(image), true, 'the stream takes a clean image');
    });
  }

  test('a target directory that cannot be made (under /proc, where mkdirSync recursive loops) is one message and exit 1, at once', () => {
    const image = path.join(work, 'proc-target.img');
    importTree(tree, image, {});
    const r = spawnSync(process.execPath, [bin, 'extract', image, '/proc/flashdiff-nope/x', '--no-progress'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.signal, null, 'extract hung');
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^yaffs2: \/proc\/flashdiff-nope\/x: cannot create directory \/proc\/flashdiff-nope: ENOENT\n$/);
  });

  test("mkyaffs2image's image (committed fixture)", () => {
    assert.equal(bothWays(gunzipFixture('mkyaffs2image-tree.img.gz')), true);
  });

  test('images of the real YAFFS2 and of yaffs2utils: taken or handed back, never different', () => {
    const taken: string[] = [];
    for (const dir of ['upstream', 'yaffs2utils']) {
      for (const f of fs.readdirSync(new URL(`./fixtures/${dir}/`, import.meta.url)).filter((x) => x.endsWith('.img.gz'))) {
        if (bothWays(gunzipFixture(`${dir}/${f}`))) taken.push(f);
      }
    }
    // The real YAFFS2's edits (truncations, O_TRUNC rewrites, renames, hard links, deletions,
    // Linux-style header tags, root headers) are read by the stream's own rules.
    assert.ok(taken.includes('upstream-edits.img.gz'), `taken: ${taken.join(' ')}`);
  });

  test('an image edited in place (truncate, rewrite, rename, hard links, unlink, symlink, mknod)', () => {
    const image = path.join(work, 'edited.img');
    const img = createImage(image, { blocks: 64, checkpoint: false, now: () => 1_700_000_000 });
    const f = img.fs;
    f.mkdir('/d');
    f.writeFile('/d/a', bytes(9000, 1));
    f.writeFile('/d/b', bytes(5000, 2));
    f.truncate('/d/a', 3000); // the newest header's size caps the older chunks
    const fd = f.open('/d/b', { write: true, truncate: true });
    f.write(fd, bytes(100, 3), 0);
    f.close(fd);
    f.link('/d/a', '/hard');
    f.writeFile('/gone', bytes(4000, 4));
    f.unlink('/gone');
    f.rename('/d/b', '/renamed');
    f.symlink('d/a', '/sym');
    f.mknod('/fifo', 0o010644);
    f.mknod('/null', 0o020666, (1 << 8) | 3);
    f.writeFile('/sparse', new Uint8Array(0));
    const s = f.open('/sparse', { write: true });
    f.write(s, bytes(10, 5), 20_000); // a hole, read as zeros
    f.close(s);
    img.close();
    fs.rmSync(sidecarPath(image), { force: true });
    assert.equal(bothWays(image), true);
  });
});

describe('stream extract: an image over 16 MiB', () => {
  // Past the 2 MiB head that detection reads and the first 16 MiB that give pages per block,
  // with edits early and late in the image: what the single pass writes ahead and what the
  // table settles must agree over many read windows.
  test('edited in place (edits early and late): the same tree as mounted', () => {
    const image = path.join(work, 'large-edited.img');
    const img = createImage(image, { blocks: 220, checkpoint: false, now: () => 1_700_000_000 });
    const f = img.fs;
    f.mkdir('/d');
    f.writeFile('/d/a', bytes(9000, 1));
    f.writeFile('/d/b', bytes(70_000, 2));
    f.truncate('/d/a', 3000);
    f.link('/d/a', '/hard');
    f.writeFile('/gone', bytes(4000, 4));
    f.unlink('/gone');
    f.rename('/d/b', '/renamed');
    f.mkdir('/big');
    for (let i = 0; i < 12; i++) f.writeFile(`/big/f${i}`, bytes(1_500_000 + i * 1000, 10 + i));
    const fd = f.open('/big/f3', { write: true, truncate: true });
    f.write(fd, bytes(100, 3), 0);
    f.close(fd);
    f.rename('/d', '/big/d-moved');
    f.unlink('/big/f7');
    f.writeFile('/renamed', bytes(33_000, 5));
    img.close();
    fs.rmSync(sidecarPath(image), { force: true });
    assert.ok(fs.statSync(image).size > 16 << 20);
    assert.equal(bothWays(image), true);
  });
});

describe('stream extract: handed back', () => {
  /** A copy of an imported image with `damage` applied to its bytes. */
  function damaged(what: string, damage: (b: Buffer, record: number) => void): string {
    const image = path.join(work, `damaged-${what}.img`);
    importTree(tree, image, { layout: 'mtd' });
    const b = fs.readFileSync(image);
    damage(b, 2112);
    fs.writeFileSync(image, b);
    return image;
  }
  const cases: [string, (b: Buffer, record: number) => void][] = [
    ['a tag bit flipped (corrected)', (b, r) => (b[r * 3 + 2048 + 2 + 5] ^= 0x10)],
    ['tags destroyed', (b, r) => b.fill(0x55, r * 3 + 2048 + 2, r * 3 + 2048 + 30)],
    ['a data bit flipped (corrected)', (b, r) => (b[r * 5 + 100] ^= 0x01)],
    ['a header destroyed', (b) => b.fill(0, 10, 300)],
    ['torn inside a page', () => undefined],
    ['a bad-block marker', (b, r) => (b[r * 64 + 2048] = 0)],
  ];
  for (const [what, damage] of cases) {
    test(what, () => {
      let image = damaged(what.replace(/\W+/g, '-'), damage);
      if (what.startsWith('torn')) {
        const torn = `${image}.torn`;
        fs.writeFileSync(torn, fs.readFileSync(image).subarray(0, 2112 * 100 + 1000));
        image = torn;
      }
      const out = path.join(work, `handed-${n++}`);
      assert.equal(streamExtract(image, out), null);
      assert.equal(fs.existsSync(out), false);
    });
  }

  test('the CLI then warns and exits as the mount has it', () => {
    const image = damaged('cli', (b, r) => b.fill(0x55, r * 3 + 2048 + 2, r * 3 + 2048 + 30));
    const r = spawnSync(process.execPath, [bin, 'extract', image, path.join(work, 'cli-out'), '--no-progress'], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /warning: .*--ignore-errors to exit 0/);
  });

  test('an image cut short after the table was built: EIO when its contents are read, not a wrong file', () => {
    const image = path.join(work, 'cut-later.img');
    importTree(tree, image, {});
    const size = fs.statSync(image).size;
    const out = path.join(work, 'cut-later-out');
    // The table is built from the first read; when the scan reports its last block, the image
    // loses its second half, which the walk then reads the file contents from (the two-pass
    // way; the single pass reads them back only for files it rewrites or leaves to the walk).
    assert.throws(
      () =>
        streamExtract(image, out, {
          singlePass: false,
          onScanProgress: (done, total) => {
            if (done === total) fs.truncateSync(image, Math.floor(size / 2 / 2112) * 2112);
          },
        }),
      (e: unknown) => (e as { code?: string }).code === 'EIO' && /changed while being read/.test((e as Error).message),
    );
  });

  test('an image with a checkpoint (the mount may use it)', () => {
    const image = path.join(work, 'checkpoint.img');
    const img = createImage(image, { blocks: 32 });
    img.fs.writeFile('/f', bytes(100, 7));
    img.close();
    fs.rmSync(sidecarPath(image), { force: true });
    assert.equal(streamExtract(image, path.join(work, 'cp-out')), null);
  });
});
