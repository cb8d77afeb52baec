/**
 * Nothing silent: what a mount cannot read is said on stderr by every read command (one line),
 * `ls`, `extract`, `info`, `cat` and `get` exit 1 unless --ignore-errors, `fsck` lists each
 * problem and never calls such an image clean; a damaged image is read as far as it goes.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { openImage } from '../src/index.ts';

let work = '';
const bin = new URL('../bin/yaffs2.js', import.meta.url).pathname;
const run = (...args: string[]): { status: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: work });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};
const RECORD = 2048 + 64;
let good: Buffer;

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-damaged-'));
  good = zlib.gunzipSync(fs.readFileSync(new URL('./fixtures/mkyaffs2image-tree.img.gz', import.meta.url)));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

function write(name: string, bytes: Uint8Array): string {
  const p = path.join(work, name);
  fs.writeFileSync(p, bytes);
  return p;
}

describe('damaged images', () => {
  test('uncorrectable tags: every read command warns in one line and exits 1; --ignore-errors exits 0; fsck is not clean', () => {
    const bad = Buffer.from(good);
    for (const page of [5, 6]) bad[page * RECORD + 2048 + 4] ^= 0x11; // two bits in one tag byte: beyond tag ECC
    const image = write('tags.img', bad);
    for (const args of [['ls', '-R', image], ['info', image], ['extract', image, path.join(work, 'tags-out')], ['cat', image, '/size-1']]) {
      const r = run(...args);
      assert.equal(r.status, 1, `${args[0]}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^yaffs2: .*warning: .*uncorrectable tags/);
    }
    const ok = run('ls', '-R', '--ignore-errors', image);
    assert.equal(ok.status, 0);
    assert.match(ok.stderr, /warning/);
    const fsck = run('fsck', image);
    assert.equal(fsck.status, 1);
    assert.doesNotMatch(fsck.stdout, /clean/);
    assert.match(fsck.stdout, /2 chunk\(s\) with uncorrectable tags skipped/);
  });

  test('a header with an impossible type: its object and data are reported dropped, the rest reads', () => {
    const bad = Buffer.from(good);
    // Find the header of /size-2049 and give it type 9.
    const img = openImage(write('probe.img', good), { readOnly: true });
    const id = img.fs.stat('/size-2049').id;
    img.close();
    let headerPage = -1;
    for (let page = 0; page < good.length / RECORD; page++) {
      const spare = good.subarray(page * RECORD + 2048);
      if (spare.readUInt32LE(4) === id && spare.readUInt32LE(8) === 0) headerPage = page;
    }
    assert.ok(headerPage >= 0);
    bad.writeUInt32LE(9, headerPage * RECORD);
    const image = write('type.img', bad);
    const back = openImage(image, { readOnly: true });
    assert.ok(back.fs.mountProblems.some((p) => p.includes(`object ${id}: header at page ${headerPage} has object type 9`)), back.fs.mountProblems.join('\n'));
    assert.ok(back.fs.mountProblems.some((p) => p.includes(`object ${id}: 2 data chunk(s) but no readable header; dropped`)), back.fs.mountProblems.join('\n'));
    assert.equal(back.fs.readFile('/size-2048').length, 2048);
    back.close();
  });

  test('an image torn inside a page is read as far as it goes and says so; an edit rewrites it whole', () => {
    const image = write('torn.img', good.subarray(0, 100 * RECORD + 700));
    const ls = run('ls', '-R', image);
    assert.equal(ls.status, 1);
    assert.match(ls.stderr, /ends 700 bytes into page 100/);
    assert.match(ls.stdout, /size-2049/);
    // An edit rewrites the image whole from what could be read, and says so.
    const small = run('mkdir', image, '/x');
    assert.equal(small.status, 1);
    assert.match(small.stderr, /ENOSPC/);
    const edit = run('mkdir', image, '/x', '--blocks', '8');
    assert.equal(edit.status, 0, edit.stderr);
    assert.match(edit.stderr, /warning: rewritten from what could be read: the image ends 700 bytes into page 100/);
    assert.equal(run('fsck', image).status, 0);
    const torn = write('torn2.img', good.subarray(0, 100 * RECORD + 700));
    const info = JSON.parse(run('info', '--json', '--ignore-errors', torn).stdout) as { problems: string[] };
    assert.match(info.problems[0]!, /ends 700 bytes into page 100/);
  });
});
