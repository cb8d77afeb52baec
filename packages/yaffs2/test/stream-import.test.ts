/**
 * stream-import.ts against image.ts's importTree: the same tree into images of every geometry,
 * layout, byte order, tag ECC and data ECC the CLI offers, with --blocks and --free, must come
 * out byte for byte the same; errors (ENOSPC, a file that shrank, what the stream hands to
 * importTree) the same too, with nothing left behind; the images read back by our reader and,
 * where it reads the format, Debian's unyaffs.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { geometryPreset } from '@flashdiff/nand';
import { extractTree, importTree, openImage } from '../src/index.ts';
import type { ImportOptions } from '../src/index.ts';
import { streamImport } from '../src/stream-import.ts';
import { makeFixtureTree } from './fixtures/fixture-tree.ts';
import { bytes } from './helpers.ts';
import { sameHostTree } from './raw-tree.ts';

let work = '';
let tree = '';

/** A clock that moves on each call: both paths must call it alike to stamp hard links alike. */
function clock(): () => number {
  let t = 1_700_000_000;
  return () => t++;
}

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-stream-import-'));
  tree = path.join(work, 'tree');
  makeFixtureTree(tree);
  // More than one output buffer (2 MiB) and more than 1024 chunks in one file (readv's limit).
  fs.writeFileSync(path.join(tree, 'dir', 'big-3m'), bytes(3 * 1024 * 1024 + 777, 16));
  // A name that is not UTF-8, a second hard link, a FIFO.
  fs.writeFileSync(path.join(tree, Buffer.from([0x6e, 0xe9, 0xff]).toString('latin1')), 'latin1 name\n');
  fs.writeFileSync(Buffer.concat([Buffer.from(tree + '/'), Buffer.from([0x72, 0x61, 0x77, 0xe9])]), 'raw byte name\n');
  fs.linkSync(path.join(tree, 'size-1'), path.join(tree, 'dir', 'sub', 'second-link'));
  spawnSync('mkfifo', [path.join(tree, 'fifo')]);
  // Access times a day ahead: reading the files (relatime) must not change what the next import sees.
  const ahead = Math.floor(Date.now() / 1000) + 86_400;
  const walk = (d: Buffer): void => {
    for (const name of fs.readdirSync(d, { encoding: 'buffer' })) {
      const p = Buffer.concat([d, Buffer.from('/'), name]);
      const st = fs.lstatSync(p);
      if (st.isDirectory()) walk(p);
      fs.lutimesSync(p, ahead, Math.floor(st.mtimeMs / 1000));
    }
  };
  walk(Buffer.from(tree));
});

after(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

let n = 0;
function both(options: ImportOptions): { general: string; stream: string } {
  const general = path.join(work, `general-${n}.img`);
  const stream = path.join(work, `stream-${n++}.img`);
  importTree(tree, general, { ...options, now: clock() });
  streamImport(tree, stream, { ...options, now: clock() });
  return { general, stream };
}

function assertSameBytes(a: string, b: string, what: string): void {
  const x = fs.readFileSync(a);
  const y = fs.readFileSync(b);
  assert.equal(y.length, x.length, `${what}: length`);
  const at = x.findIndex((v, i) => v !== y[i]);
  assert.equal(at, -1, `${what}: first difference at byte ${at}`);
}

const g = (pageSize: number, spareSize: number, pagesPerBlock: number) => ({ ...geometryPreset('yaffs2-2k'), pageSize, spareSize, pagesPerBlock });

const variants: [string, ImportOptions][] = [
  ['default (2048 + 64, mkyaffs2)', {}],
  ['mtd, smartmedia data ECC', { layout: 'mtd' }],
  ['mtd, linux data ECC, big-endian', { layout: 'mtd', dataEcc: 'linux', bigEndian: true }],
  ['mtd, no data ECC, tag ECC off', { layout: 'mtd', dataEcc: 'none', tagEcc: false }],
  ['big-endian, little-endian parity', { bigEndian: true, littleEndianParity: true }],
  ['4096 + 128, 128 pages per block', { geometry: g(4096, 128, 128) }],
  ['4096 + 224, mtd', { geometry: g(4096, 224, 64), layout: 'mtd' }],
  ['8192 + 256, mtd linux', { geometry: g(8192, 256, 32), layout: 'mtd', dataEcc: 'linux' }],
  ['16384 + 512', { geometry: g(16384, 512, 32) }],
  ['inband tags', { inbandTags: true, tagEcc: false }],
  ['inband tags, mtd, big-endian', { inbandTags: true, tagEcc: false, layout: 'mtd', bigEndian: true }],
  ['YAFFS1 (512 + 16)', { geometry: g(512, 16, 32), layout: 'yaffs1' }],
  ['YAFFS1 big-endian', { geometry: g(512, 16, 32), layout: 'yaffs1', bigEndian: true }],
  ['YAFFS1 through MTD', { geometry: g(512, 16, 32), layout: 'yaffs1-mtd' }],
  ['--blocks 80', { blocks: 80 }],
  ['--free 1M', { freeBytes: 1 << 20 }],
];

describe('stream import: byte-identical to importTree', () => {
  for (const [name, options] of variants) {
    test(name, () => {
      const { general, stream } = both(options);
      assertSameBytes(general, stream, name);
      assert.deepEqual(fs.readdirSync(work).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');
    });
  }
});

describe('stream import: read back', () => {
  test('our reader extracts the tree it was made from', () => {
    const image = path.join(work, 'readback.img');
    streamImport(tree, image, { layout: 'mtd' });
    const img = openImage(image, { readOnly: true });
    assert.deepEqual(img.fs.mountProblems, []);
    const out = path.join(work, 'readback-out');
    extractTree(img.fs, out);
    img.close();
    sameHostTree(tree, out);
  });

  test('Debian unyaffs extracts it', (t) => {
    if (spawnSync('sh', ['-c', 'command -v unyaffs']).status !== 0) return t.skip('unyaffs not installed');
    const image = path.join(work, 'unyaffs.img');
    streamImport(tree, image);
    const out = path.join(work, 'unyaffs-out');
    fs.mkdirSync(out);
    const r = spawnSync('unyaffs', [image, out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(fs.readFileSync(path.join(out, 'dir', 'big-3m')), fs.readFileSync(path.join(tree, 'dir', 'big-3m')));
    assert.deepEqual(fs.readFileSync(path.join(out, 'size-2049')), fs.readFileSync(path.join(tree, 'size-2049')));
    assert.equal(fs.readlinkSync(path.join(out, 'link-to-file')), 'size-2049');
  });
});

describe('stream import: errors as importTree gives them', () => {
  const outcome = (f: () => unknown): string => {
    try {
      f();
      return 'ok';
    } catch (e) {
      return `${(e as { code?: string }).code}: ${(e as Error).message}`;
    }
  };

  test('ENOSPC with too few blocks: the same error, no image, no temporary file', () => {
    const a = path.join(work, 'full-a.img');
    const b = path.join(work, 'full-b.img');
    const general = outcome(() => importTree(tree, a, { blocks: 12 }));
    const stream = outcome(() => streamImport(tree, b, { blocks: 12 }));
    assert.match(general, /^ENOSPC: /);
    assert.equal(stream, general.replace(a, b));
    assert.equal(fs.existsSync(b), false);
    assert.deepEqual(fs.readdirSync(work).filter((f) => f.endsWith('.tmp')), []);
  });

  test('an existing image, a missing tree: the same errors', () => {
    const existing = path.join(work, 'exists.img');
    fs.writeFileSync(existing, 'x');
    assert.equal(outcome(() => streamImport(tree, existing)), outcome(() => importTree(tree, existing)));
    const missing = path.join(work, 'no-such-tree');
    assert.equal(outcome(() => streamImport(missing, path.join(work, 'm.img'))), outcome(() => importTree(missing, path.join(work, 'm.img'))));
  });

  test('what the stream leaves to importTree still comes out the same (a top-level lost+found, a long symlink target)', () => {
    const odd = path.join(work, 'odd');
    fs.mkdirSync(path.join(odd, 'lost+found'), { recursive: true });
    fs.writeFileSync(path.join(odd, 'lost+found', 'f'), 'x');
    const a = path.join(work, 'odd-a.img');
    const b = path.join(work, 'odd-b.img');
    assert.equal(outcome(() => streamImport(odd, b)), outcome(() => importTree(odd, a)).replace(a, b));
    const long = path.join(work, 'long');
    fs.mkdirSync(long);
    fs.symlinkSync('t'.repeat(200), path.join(long, 'l'));
    const c = path.join(work, 'long-a.img');
    const d = path.join(work, 'long-b.img');
    const general = outcome(() => importTree(long, c));
    assert.match(general, /^ENAMETOOLONG: /);
    assert.equal(outcome(() => streamImport(long, d)), general);
  });

  test('a 512-byte spare with one block too few for the reserve: the same error', () => {
    const a = path.join(work, 'few-a.img');
    const b = path.join(work, 'few-b.img');
    const general = outcome(() => importTree(tree, a, { blocks: 3 }));
    assert.notEqual(general, 'ok');
    assert.equal(outcome(() => streamImport(tree, b, { blocks: 3 })), general.replace(a, b));
  });
});
