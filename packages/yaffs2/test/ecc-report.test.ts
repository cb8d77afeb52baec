/**
 * Corrected ECC errors are not silent (issue 16, "No silent misreads"): every read command says
 * on stderr, once per image, what the data and tag ECC corrected (each chunk once), exits 0 and
 * extracts the same bytes as from the undamaged image; `info` and `fsck` show the counts in their
 * output. Images are written by this project's `importTree` in several layouts (mtd with
 * SmartMedia or Linux data-ECC byte order, tags with and without their ECC, mkyaffs2, YAFFS1
 * 512-byte pages), then bits flipped at pages chosen by a seeded PRNG. Upstream counterpart: the
 * ECC statistics Linux YAFFS2 keeps per device (yaffs_dev ecc counters) and the kernel log lines
 * nand_base writes for corrected reads.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { geometryPreset } from '@flashdiff/nand';
import { describeEccCorrections, extractTree, importTree, openImage } from '../src/index.ts';
import type { EccCorrections, ImportOptions } from '../src/index.ts';
import { streamExtract } from '../src/stream-extract.ts';
import { makeFixtureTree } from './fixtures/fixture-tree.ts';
import { prng } from './helpers.ts';
import { sameHostTree } from './raw-tree.ts';

const bin = new URL('../bin/yaffs2.js', import.meta.url).pathname;

let work = '';
before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-ecc-report-'));
  makeFixtureTree(path.join(work, 'tree'));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

interface Variant {
  name: string;
  options: ImportOptions;
  pageSize: number;
  spareSize: number;
  pagesPerBlock: number;
  /** Spare offsets of the stored data-ECC code of each 256-byte sector (none: no data ECC). */
  eccAt: number[];
  /** A spare offset inside the ECC-protected tags, where a flipped bit is corrected (null: tags have no ECC). */
  tagByte: number | null;
}

const yaffs1Geometry = { ...geometryPreset('yaffs2-2k'), pageSize: 512, spareSize: 16, pagesPerBlock: 32 };
const VARIANTS: Variant[] = [
  // nand_oob_64: bad-block marker at 0-1, tags from 2, data ECC at 40-63.
  { name: 'mtd, SmartMedia data ECC, tag ECC', options: { layout: 'mtd', dataEcc: 'smartmedia' }, pageSize: 2048, spareSize: 64, pagesPerBlock: 64, eccAt: Array.from({ length: 8 }, (_, s) => 40 + 3 * s), tagByte: 2 + 5 },
  { name: 'mtd, Linux data ECC, no tag ECC', options: { layout: 'mtd', dataEcc: 'linux', tagEcc: false }, pageSize: 2048, spareSize: 64, pagesPerBlock: 64, eccAt: Array.from({ length: 8 }, (_, s) => 40 + 3 * s), tagByte: null },
  { name: 'mtd, Linux data ECC, big-endian, tag ECC', options: { layout: 'mtd', dataEcc: 'linux', bigEndian: true }, pageSize: 2048, spareSize: 64, pagesPerBlock: 64, eccAt: Array.from({ length: 8 }, (_, s) => 40 + 3 * s), tagByte: 2 + 6 },
  { name: 'mkyaffs2, tag ECC (no data ECC)', options: { layout: 'mkyaffs2' }, pageSize: 2048, spareSize: 64, pagesPerBlock: 64, eccAt: [], tagByte: 5 },
  // struct yaffs_spare: tag bytes 0-3, 6-7, 11-12; data ECC at 8-10 and 13-15.
  { name: 'YAFFS1 512-byte pages', options: { layout: 'yaffs1', geometry: yaffs1Geometry }, pageSize: 512, spareSize: 16, pagesPerBlock: 32, eccAt: [8, 13], tagByte: 1 },
];

function slug(s: string): string {
  return s.replace(/\W+/g, '-');
}

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  // (cat has no progress bar, so no --no-progress)
  const r = spawnSync(process.execPath, [bin, ...args, ...(args[0] === 'cat' ? [] : ['--no-progress'])], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** What flipping bits should give: counted independently of the code under test. */
function expected(dataFlips: Map<number, number>, tagPages: Set<number>, ppb: number): EccCorrections {
  const blocks = (pages: Iterable<number>): number[] => [...new Set([...pages].map((p) => Math.floor(p / ppb)))].sort((a, b) => a - b);
  return {
    dataBits: [...dataFlips.values()].reduce((a, b) => a + b, 0),
    dataChunks: dataFlips.size,
    dataBlocks: blocks(dataFlips.keys()),
    tagChunks: tagPages.size,
    tagBlocks: blocks(tagPages),
  };
}

describe('ECC corrections are reported, not silent', () => {
  for (const v of VARIANTS) {
    describe(v.name, () => {
      const record = v.pageSize + v.spareSize;
      let clean = '';
      let flipped = '';
      let cleanOut = '';
      let want: EccCorrections;
      let line = '';

      before(() => {
        clean = path.join(work, `${slug(v.name)}.img`);
        importTree(path.join(work, 'tree'), clean, v.options);
        cleanOut = path.join(work, `${slug(v.name)}-clean-out`);
        const r = cli('extract', clean, cleanOut);
        assert.equal(r.status, 0, r.stderr);

        // import writes no stale chunks (one header per object, its data after it): every
        // programmed page is live, so extract and fsck read each one.
        const bytes = fs.readFileSync(clean);
        const pages = bytes.length / record;
        const programmed: number[] = [];
        for (let p = 0; p < pages; p++) if (!bytes.subarray(p * record, (p + 1) * record).every((b) => b === 0xff)) programmed.push(p);
        assert.ok(programmed.length > v.pagesPerBlock, `${programmed.length} pages programmed: the tree should span blocks`);
        const random = prng(0x16c + v.pageSize + (v.options.bigEndian ? 1 : 0) + (v.options.tagEcc === false ? 2 : 0));
        const pick = (): number => programmed[Math.floor(random() * programmed.length)]!;

        const dataFlips = new Map<number, number>();
        const tagPages = new Set<number>();
        if (v.eccAt.length > 0) {
          // Page 0 (a header: what every mount reads): one bit in each of two sectors.
          for (const sector of [0, 1]) bytes[sector * 256 + 17] ^= 0x04;
          dataFlips.set(0, 2);
          // One bit in a random sector of random pages in other blocks, and a bit of a stored code.
          for (let n = 0; n < 3; n++) {
            let p = pick();
            while (dataFlips.has(p)) p = pick();
            const sector = Math.floor(random() * (v.pageSize / 256));
            const at = p * record + sector * 256 + Math.floor(random() * 256);
            bytes[at] ^= 1 << Math.floor(random() * 8);
            dataFlips.set(p, 1);
          }
          let p = pick();
          while (dataFlips.has(p)) p = pick();
          bytes[p * record + v.pageSize + v.eccAt[v.eccAt.length - 1]! + 2] ^= 0x40; // a column-parity bit
          dataFlips.set(p, 1);
        }
        if (v.tagByte !== null) {
          for (let n = 0; n < 2; n++) {
            let p = pick();
            while (tagPages.has(p) || p === 0) p = pick();
            bytes[p * record + v.pageSize + v.tagByte] ^= 0x10;
            tagPages.add(p);
          }
        }
        flipped = path.join(work, `${slug(v.name)}-flipped.img`);
        fs.writeFileSync(flipped, bytes);
        want = expected(dataFlips, tagPages, v.pagesPerBlock);
        line = describeEccCorrections(want)!;
        assert.ok(line !== null);
      });

      test('a clean image: nothing extra on stderr, exit 0, nothing counted', () => {
        for (const args of [['ls', '-R', clean], ['info', clean], ['fsck', clean], ['cat', clean, '/size-6244']]) {
          const r = cli(...args);
          assert.equal(r.status, 0, `${args[0]}: ${r.stderr}`);
          assert.equal(r.stderr, '', args[0]);
          assert.doesNotMatch(r.stdout, /ECC corrected/, args[0]);
        }
        assert.match(cli('info', clean).stdout, /^ecc {10}nothing corrected in the chunks read$/m);
        assert.equal(cli('fsck', clean).stdout, `${clean}: clean\n`);
        const json = JSON.parse(cli('info', clean, '--json').stdout) as { eccCorrections: EccCorrections };
        assert.deepEqual(json.eccCorrections, { dataBits: 0, dataChunks: 0, dataBlocks: [], tagChunks: 0, tagBlocks: [] });
      });

      test('extract: one line with the counts, exit 0, the same tree as from the clean image', () => {
        const out = path.join(work, `${slug(v.name)}-flipped-out`);
        const r = cli('extract', flipped, out);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stderr, `yaffs2: ${flipped}: ${line}\n`);
        sameHostTree(cleanOut, out);
      });

      test('the streaming path hands the image back untouched; the general path counts the same', () => {
        const streamed = path.join(work, `${slug(v.name)}-streamed`);
        assert.equal(streamExtract(flipped, streamed), null);
        assert.equal(fs.existsSync(streamed), false);
        // A clean image of a layout the streaming path takes is extracted there, and says nothing.
        if (v.options.layout !== 'yaffs1') assert.notEqual(streamExtract(clean, path.join(work, `${slug(v.name)}-clean-streamed`)), null);
        const img = openImage(flipped, { readOnly: true });
        try {
          const out = path.join(work, `${slug(v.name)}-api-out`);
          extractTree(img.fs, out);
          assert.deepEqual(img.fs.eccCorrections, want);
          assert.equal(describeEccCorrections(img.fs.eccCorrections), line);
          assert.deepEqual(img.fs.mountProblems, []);
          sameHostTree(cleanOut, out);
        } finally {
          img.close();
        }
      });

      test('fsck reads every chunk: the counts on stdout and stderr, and clean, exit 0', () => {
        const r = cli('fsck', flipped);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, `${flipped}: ${line}\n${flipped}: clean\n`);
        assert.equal(r.stderr, `yaffs2: ${flipped}: ${line}\n`);
      });

      test('info, ls and cat count what they read (the mount; cat its file too), once', () => {
        const img = openImage(flipped, { readOnly: true });
        let mounted: EccCorrections;
        let afterCat: EccCorrections;
        try {
          mounted = img.fs.eccCorrections;
          img.fs.readFile('/size-6244');
          afterCat = img.fs.eccCorrections;
        } finally {
          img.close();
        }
        // Page 0's header is read by every mount: its two bits at least.
        if (v.eccAt.length > 0) assert.ok(mounted.dataBits >= 2 && mounted.dataBlocks[0] === 0, JSON.stringify(mounted));
        const mountLine = describeEccCorrections(mounted);
        const info = cli('info', flipped);
        assert.equal(info.status, 0, info.stderr);
        assert.equal(info.stderr, mountLine === null ? '' : `yaffs2: ${flipped}: ${mountLine}\n`);
        assert.match(info.stdout, new RegExp(`^ecc {10}${(mountLine ?? 'nothing corrected in the chunks read').replace(/[()]/g, '\\$&')}$`, 'm'));
        const json = cli('info', flipped, '--json');
        assert.equal(json.status, 0, json.stderr);
        assert.deepEqual((JSON.parse(json.stdout) as { eccCorrections: EccCorrections }).eccCorrections, mounted);
        const ls = cli('ls', '-l', '-R', flipped);
        assert.equal(ls.status, 0, ls.stderr);
        assert.equal(ls.stderr, mountLine === null ? '' : `yaffs2: ${flipped}: ${mountLine}\n`);
        assert.equal(ls.stdout, cli('ls', '-l', '-R', clean).stdout);
        const cat = spawnSync(process.execPath, [bin, 'cat', flipped, '/size-6244']);
        assert.equal(cat.status, 0, String(cat.stderr));
        const catLine = describeEccCorrections(afterCat);
        assert.equal(String(cat.stderr), catLine === null ? '' : `yaffs2: ${flipped}: ${catLine}\n`);
        assert.deepEqual(cat.stdout, fs.readFileSync(path.join(cleanOut, 'size-6244')));
      });

      test('the edits say once what the ECC corrected in the old image (put, mkdir, grow: every chunk copied; rm), and rewrite it clean; fsck --repair once', () => {
        const host = path.join(work, `${slug(v.name)}-put.txt`);
        fs.writeFileSync(host, 'put\n');
        const blocks = fs.statSync(flipped).size / (record * v.pagesPerBlock);
        const edits: [string, string[]][] = [
          ['put', [host, '/put.txt']],
          ['mkdir', ['/new-dir']],
          ['grow', ['--blocks', String(blocks + 2)]],
          ['rm', ['/size-6244']],
        ];
        for (const [command, args] of edits) {
          const copy = path.join(work, `${slug(v.name)}-${command}.img`);
          fs.copyFileSync(flipped, copy);
          const r = spawnSync(process.execPath, [bin, command, copy, ...args], { encoding: 'utf8' });
          assert.equal(r.status, 0, `${command}: ${r.stderr}`);
          const lines = r.stderr.split('\n').filter((l) => /ECC corrected/.test(l));
          assert.equal(lines.length, 1, `${command}: ${r.stderr}`);
          // rm reads all but the removed file's chunks: the same words, maybe fewer of them.
          if (command === 'rm') assert.match(lines[0]!, new RegExp(`^yaffs2: ${copy.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: the (data|tag) ECC corrected`));
          else assert.equal(lines[0], `yaffs2: ${copy}: ${line}`, command);
          // The rewritten image needs no correction.
          const check = cli('fsck', copy);
          assert.equal(check.stdout, `${copy}: clean\n`, command);
          assert.equal(check.stderr, '', command);
        }
        const repaired = path.join(work, `${slug(v.name)}-repair.img`);
        fs.copyFileSync(flipped, repaired);
        const r = cli('fsck', '--repair', repaired);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stderr, `yaffs2: ${repaired}: ${line}\n`);
      });
    });
  }

  test('the wording: singular, plural, long block lists', () => {
    assert.equal(describeEccCorrections({ dataBits: 0, dataChunks: 0, dataBlocks: [], tagChunks: 0, tagBlocks: [] }), null);
    assert.equal(describeEccCorrections({ dataBits: 1, dataChunks: 1, dataBlocks: [4], tagChunks: 0, tagBlocks: [] }), 'the data ECC corrected 1 bit error in 1 chunk (block 4)');
    assert.equal(
      describeEccCorrections({ dataBits: 3, dataChunks: 3, dataBlocks: [4, 9], tagChunks: 1, tagBlocks: [4] }),
      'the data ECC corrected 3 bit errors in 3 chunks (blocks 4, 9); the tag ECC corrected the tags of 1 chunk (block 4)',
    );
    assert.equal(
      describeEccCorrections({ dataBits: 0, dataChunks: 0, dataBlocks: [], tagChunks: 10, tagBlocks: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }),
      'the tag ECC corrected the tags of 10 chunks (blocks 1, 2, 3, 4, 5, 6, 7, 8 and 2 more)',
    );
  });
});
