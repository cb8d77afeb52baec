/**
 * The single-pass extract (extract-ahead.ts: the tree written while the image is read, then
 * settled against the object table) against the two-pass stream extract and the general extract
 * (mount + extractTree): over seeded images written by the library with overwrites, truncations,
 * extensions past holes, deletions, renames of files and directories, hard links and symlinks,
 * on devices small enough that the garbage collector moves chunks (so blocks are not in sequence
 * order), with both header-tag styles; over the formats `import` writes; and over the committed
 * images of mkyaffs2image, the real YAFFS2 and yaffs2utils. The three trees must be the same, and
 * the settle summaries show that each correction (a rewrite, a removal, a discard) was exercised.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { geometryPreset, sidecarPath } from '@flashdiff/nand';
import { createImage, extractTree, importTree, isYaffs2Error, openImage } from '../src/index.ts';
import type { ImportOptions, Yaffs2 } from '../src/index.ts';
import { streamExtract } from '../src/stream-extract.ts';
import type { SettleSummary } from '../src/extract-ahead.ts';
import { makeFixtureTree } from './fixtures/fixture-tree.ts';
import { bytes, prng } from './helpers.ts';
import { sameHostTree } from './raw-tree.ts';

let work = '';
let n = 0;

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-single-pass-'));
});

after(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

/** Totals of the settle summaries over a test's images. */
interface Totals {
  taken: number;
  written: number;
  rewritten: number;
  removed: number;
  discarded: number;
}
const totals = (): Totals => ({ taken: 0, written: 0, rewritten: 0, removed: 0, discarded: 0 });

/** Extracts `image` three ways; returns whether the stream took it (the three trees then agree). */
function threeWays(image: string, sum: Totals): boolean {
  const general = path.join(work, `general-${n}`);
  const twoPass = path.join(work, `two-pass-${n}`);
  const single = path.join(work, `single-${n++}`);
  const img = openImage(image, { readOnly: true });
  extractTree(img.fs, general);
  img.close();
  const a = streamExtract(image, twoPass, { singlePass: false });
  let summary: SettleSummary | null = null;
  const b = streamExtract(image, single, { onSettle: (s) => (summary = s) });
  assert.equal(b === null, a === null, 'both stream ways take the image, or neither');
  if (b === null) {
    assert.equal(fs.existsSync(single), false, 'handed back: nothing of the single pass left');
    return false;
  }
  assert.notEqual(summary, null, 'the single pass settled');
  const s = summary! as SettleSummary;
  sum.taken++;
  sum.written += s.written;
  sum.rewritten += s.rewritten;
  sum.removed += s.removed;
  if (s.discarded) sum.discarded++;
  sameHostTree(general, twoPass);
  sameHostTree(general, single);
  sameAllocation(general, single);
  assert.deepEqual(b, a, 'the same counts');
  return true;
}

/**
 * Every file holds as many blocks on the host in both trees: the single pass writes the walk's
 * zeros (holes, short chunks) rather than leaving them sparse.
 */
function sameAllocation(want: string | Buffer, got: string | Buffer): void {
  const join = (d: string | Buffer, name: Buffer): Buffer => Buffer.concat([Buffer.from(d), Buffer.from('/'), name]);
  for (const name of fs.readdirSync(want, { encoding: 'buffer' })) {
    const a = fs.lstatSync(join(want, name));
    const b = fs.lstatSync(join(got, name));
    if (a.isDirectory()) sameAllocation(join(want, name), join(got, name));
    else if (a.isFile()) assert.equal(b.blocks, a.blocks, `${join(got, name).toString()}: blocks allocated`);
  }
}

const DIRS = ['/', '/a', '/a/b', '/c'];
const NAMES = ['f0', 'f1', 'f2', 'f3', 'f4', 'x'];

/** Seeded edits of a fresh image through the library (sizes up to 5 chunks, so holes and short chunks abound). */
function editedImage(seed: number, blocks: number, headerTags: 'linux' | 'mkyaffs2'): string {
  const image = path.join(work, `edited-${seed}-${headerTags}.img`);
  const img = createImage(image, { blocks, checkpoint: false, headerTags, now: () => 1_700_000_000 + seed });
  const f: Yaffs2 = img.fs;
  const random = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const anyPath = (): string => {
    const d = pick(DIRS);
    return d === '/' ? `/${pick(NAMES)}` : `${d}/${pick(NAMES)}`;
  };
  f.mkdir('/a');
  f.mkdir('/a/b');
  f.mkdir('/c');
  for (let op = 0; op < 60; op++) {
    const r = random();
    try {
      if (r < 0.25) {
        f.writeFile(anyPath(), bytes(Math.floor(random() * 10_000), seed * 100 + op));
      } else if (r < 0.4) {
        // Overwrite inside, or extend past the end (a hole when far past it).
        const h = f.open(anyPath(), { write: true });
        f.write(h, bytes(1 + Math.floor(random() * 3000), seed * 100 + op), Math.floor(random() * 12_000));
        f.close(h);
      } else if (r < 0.5) {
        f.truncate(anyPath(), Math.floor(random() * 6000));
      } else if (r < 0.6) {
        const h = f.open(anyPath(), { write: true, truncate: true });
        f.write(h, bytes(Math.floor(random() * 5000), seed * 100 + op), 0);
        f.close(h);
      } else if (r < 0.7) {
        f.rename(anyPath(), anyPath());
      } else if (r < 0.75) {
        f.rename(pick(['/a/b', '/c']), pick(['/c/moved', '/a/b2', '/d']));
      } else if (r < 0.8) {
        f.link(anyPath(), anyPath());
      } else if (r < 0.9) {
        f.unlink(anyPath());
      } else if (r < 0.95) {
        f.symlink(`target-${op}`, anyPath());
      } else {
        f.mkdir(anyPath());
      }
    } catch (e) {
      if (!isYaffs2Error(e)) throw e; // ENOENT, EEXIST, EISDIR, ENOSPC … : the edit did not happen
    }
  }
  img.close();
  fs.rmSync(sidecarPath(image), { force: true });
  return image;
}

function writeAt(f: Yaffs2, file: string, position: number, length: number): void {
  const h = f.open(file, { write: true });
  f.write(h, bytes(length, position), position);
  f.close(h);
}

describe('single-pass extract: the same trees as the two-pass and the general extract', () => {
  test('seeded edited images (overwrites, truncations, holes, renames, hard links, deletions), blocks moved by GC', () => {
    const sum = totals();
    let images = 0;
    for (let seed = 1; seed <= 24; seed++) {
      for (const headerTags of ['linux', 'mkyaffs2'] as const) {
        threeWays(editedImage(seed, seed % 3 === 0 ? 12 : 40, headerTags), sum);
        images++;
      }
    }
    // Most are taken (a few hand back what the mount would report); every correction ran.
    assert.ok(sum.taken >= images / 2, `taken ${sum.taken} of ${images}`);
    assert.ok(sum.rewritten > 0, `files rewritten from the table: ${sum.rewritten}`);
    assert.ok(sum.removed + sum.discarded > 0, `removed ${sum.removed}, discarded ${sum.discarded}`);
    assert.ok(sum.written > 0, `files kept as written: ${sum.written}`);
  });

  test('each correction on its own: truncated to a chunk boundary, extended by truncate, a hole, a short chunk inside, an overwrite, a hard link, a rename', () => {
    const cases: [string, (f: Yaffs2) => void, keyof Omit<Totals, 'taken'>][] = [
      // Chunks past the new size stay on flash; the table drops them, the file is cut to size.
      ['cut at a chunk boundary', (f) => (f.writeFile('/f', bytes(10_000, 1)), f.truncate('/f', 4096)), 'written'],
      // The header's size past the data: zeros to the size.
      ['extended by truncate', (f) => (f.writeFile('/f', bytes(100, 2)), f.truncate('/f', 5000)), 'written'],
      ['a hole', (f) => (f.writeFile('/f', bytes(100, 3)), writeAt(f, '/f', 9000, 500)), 'written'],
      ['a short chunk inside', (f) => (f.writeFile('/f', bytes(3000, 4)), f.truncate('/f', 1000), writeAt(f, '/f', 4096, 10)), 'rewritten'],
      ['an overwrite', (f) => (f.writeFile('/f', bytes(6000, 5)), writeAt(f, '/f', 2048, 100)), 'rewritten'],
      ['a hard link', (f) => (f.writeFile('/f', bytes(3000, 6)), f.link('/f', '/g')), 'removed'],
      ['a file renamed', (f) => (f.writeFile('/f', bytes(3000, 7)), f.rename('/f', '/g')), 'removed'],
      ['a directory renamed', (f) => (f.mkdir('/d'), f.writeFile('/d/f', bytes(3000, 8)), f.rename('/d', '/e')), 'discarded'],
    ];
    for (const [what, edit, expected] of cases) {
      const image = path.join(work, `case-${n}.img`);
      const img = createImage(image, { blocks: 16, checkpoint: false, now: () => 1_700_000_000 });
      edit(img.fs);
      img.close();
      fs.rmSync(sidecarPath(image), { force: true });
      const sum = totals();
      assert.equal(threeWays(image, sum), true, what);
      assert.ok(sum[expected] > 0, `${what}: ${JSON.stringify(sum)}`);
    }
  });

  test('an image handed back after the single pass wrote into an existing empty directory: the directory stays, empty', () => {
    const tree = path.join(work, 'small-tree');
    fs.mkdirSync(path.join(tree, 'd'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'd', 'f'), bytes(9000, 9));
    const image = path.join(work, `flipped-${n}.img`);
    importTree(tree, image, { layout: 'mtd' });
    const b = fs.readFileSync(image);
    const record = 2112;
    // A data bit flipped in the last written page (the mount corrects and reports it): the
    // single pass has made d and d/f by the time the table finds it.
    let last = 0;
    for (let p = 0; p < b.length / record; p++) if (b[p * record + 2048 + 2] !== 0xff) last = p;
    b[last * record + 7] ^= 0x01;
    fs.writeFileSync(image, b);
    const out = path.join(work, `existing-${n++}`);
    fs.mkdirSync(out);
    let settled = false;
    assert.equal(streamExtract(image, out, { onSettle: () => (settled = true) }), null);
    assert.equal(settled, false);
    assert.deepEqual(fs.readdirSync(out), []);
  });

  test("import's images of every YAFFS2 format: written whole in the one pass, nothing rewritten but hard links", () => {
    const tree = path.join(work, 'tree');
    makeFixtureTree(tree);
    fs.writeFileSync(path.join(tree, 'dir', 'big-3m'), bytes(3 * 1024 * 1024 + 777, 16));
    fs.writeFileSync(Buffer.concat([Buffer.from(tree + '/'), Buffer.from([0x72, 0x61, 0x77, 0xe9])]), 'raw byte name\n');
    const g = (pageSize: number, spareSize: number, pagesPerBlock: number) => ({ ...geometryPreset('yaffs2-2k'), pageSize, spareSize, pagesPerBlock });
    const formats: ImportOptions[] = [
      {},
      { layout: 'mtd' },
      { layout: 'mtd', dataEcc: 'linux', bigEndian: true },
      { layout: 'mtd', dataEcc: 'none', tagEcc: false },
      { geometry: g(4096, 128, 128) },
      { geometry: g(16384, 512, 32) },
    ];
    for (const options of formats) {
      const image = path.join(work, `import-${n}.img`);
      importTree(tree, image, options);
      const sum = totals();
      assert.equal(threeWays(image, sum), true);
      assert.equal(sum.discarded, 0);
      assert.equal(sum.rewritten, 0);
      assert.ok(sum.written > 5, `written ${sum.written}`);
    }
  });

  test('the committed images of mkyaffs2image, the real YAFFS2 and yaffs2utils', () => {
    const sum = totals();
    for (const dir of ['.', 'upstream', 'yaffs2utils']) {
      const folder = new URL(`./fixtures/${dir}/`, import.meta.url);
      for (const f of fs.readdirSync(folder).filter((x) => x.endsWith('.img.gz'))) {
        const image = path.join(work, `fixture-${n}-${path.basename(f, '.gz')}`);
        fs.writeFileSync(image, zlib.gunzipSync(fs.readFileSync(new URL(f, folder))));
        threeWays(image, sum);
      }
    }
    assert.ok(sum.taken >= 3, `taken ${sum.taken}`);
  });
});
