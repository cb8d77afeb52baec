/**
 * CLI edits (put, rm, mkdir, grow, fsck --repair) rewrite the image whole in mkyaffs2image's
 * order and rename it into place: Debian's unyaffs reads the result, no stale header of a
 * removed file remains for naive readers, a failure (ENOSPC) or a kill leaves the old image,
 * and no sidecar or temporary file is left behind.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { editImage, importTree, isYaffs2Error, openImage } from '../src/index.ts';

let work = '';
const bin = new URL('../bin/yaffs2.js', import.meta.url).pathname;
const run = (...args: string[]): { status: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: work });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-edit-'));
  const tree = path.join(work, 'tree');
  fs.mkdirSync(path.join(tree, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
  fs.writeFileSync(path.join(tree, 'secret'), 'a-unique-deleted-name\n');
  fs.writeFileSync(path.join(tree, 'data'), Buffer.alloc(5000, 3));
  fs.linkSync(path.join(tree, 'data'), path.join(tree, 'data-link'));
  fs.symlinkSync('etc/passwd', path.join(tree, 'pw'));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

/** Files other than the images themselves in `work`: sidecars and temporary files. */
function strays(): string[] {
  return fs.readdirSync(work).filter((n) => n.endsWith('.nandmeta.json') || n.endsWith('.tmp'));
}

function unyaffsList(image: string): string[] {
  return execFileSync('unyaffs', ['-t', image], { encoding: 'utf8' }).trim().split('\n').sort();
}

describe('edits rewrite the image whole', () => {
  test('put, mkdir, rm, rm of a hard-linked name: unyaffs reads every result; no stale header remains', () => {
    const image = path.join(work, 'a.img');
    assert.equal(run('import', path.join(work, 'tree'), image).status, 0);
    fs.writeFileSync(path.join(work, 'host.txt'), 'from the host\n');
    for (const args of [['put', image, path.join(work, 'host.txt'), '/etc/motd'], ['mkdir', image, '/var'], ['rm', image, '/secret'], ['rm', image, '/data']]) {
      const r = run(...args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    }
    assert.deepEqual(unyaffsList(image), ['data-link', 'etc', 'etc/motd', 'etc/passwd', 'pw', 'var']);
    const out = path.join(work, 'a-out');
    execFileSync('unyaffs', [image, out]);
    assert.equal(fs.readFileSync(path.join(out, 'etc', 'motd'), 'utf8'), 'from the host\n');
    assert.deepEqual(fs.readFileSync(path.join(out, 'data-link')), Buffer.alloc(5000, 3));
    // The removed file's name is nowhere on the image (yaffshiv-style readers find nothing to resurrect).
    assert.equal(fs.readFileSync(image).includes(Buffer.from('secret')), false);
    assert.equal(run('fsck', image).status, 0);
    assert.deepEqual(strays(), []);
  });

  test('a put that does not fit: ENOSPC naming the size to grow to, the image unchanged; --blocks and grow make room', () => {
    const image = path.join(work, 'b.img');
    importTree(path.join(work, 'tree'), image);
    const before = fs.readFileSync(image);
    const big = path.join(work, 'big.bin');
    fs.writeFileSync(big, Buffer.alloc(3 << 20, 0x5a));
    const r = run('put', image, big, '/big');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^yaffs2: ENOSPC: .*needs about (\d+) blocks.*yaffs2 grow/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.deepEqual(fs.readFileSync(image), before);
    assert.deepEqual(strays(), []);
    const blocks = Number(/needs about (\d+) blocks/.exec(r.stderr)![1]);
    assert.equal(run('put', image, big, '/big', '--blocks', String(blocks)).status, 0);
    const img = openImage(image, { readOnly: true });
    assert.equal(img.fs.blockCount, blocks);
    assert.deepEqual(img.fs.readFile('/big'), new Uint8Array(3 << 20).fill(0x5a));
    img.close();
    // grow: more blocks, same tree; never fewer.
    assert.equal(run('grow', image, '--blocks', String(blocks + 10)).status, 0);
    assert.equal(openImage(image, { readOnly: true }).fs.blockCount, blocks + 10);
    const shrink = run('grow', image, '--blocks', String(blocks));
    assert.equal(shrink.status, 1);
    assert.match(shrink.stderr, /only grow/);
    assert.deepEqual(strays(), []);
  });

  test('editImage refuses before writing: ENOENT, EEXIST, ENOTEMPTY, EISDIR', () => {
    const image = path.join(work, 'c.img');
    importTree(path.join(work, 'tree'), image);
    const before = fs.readFileSync(image);
    const cases: [Parameters<typeof editImage>[1], string][] = [
      [[{ kind: 'rm', path: '/nope' }], 'ENOENT'],
      [[{ kind: 'mkdir', path: '/etc' }], 'EEXIST'],
      [[{ kind: 'rm', path: '/etc' }], 'ENOTEMPTY'],
      [[{ kind: 'put', path: '/etc', content: new Uint8Array(1) }], 'EISDIR'],
      [[{ kind: 'put', path: '/no/dir/file', content: new Uint8Array(1) }], 'ENOENT'],
    ];
    for (const [edits, code] of cases) {
      assert.throws(() => editImage(image, edits), (e: unknown) => isYaffs2Error(e) && e.code === code, code);
    }
    assert.deepEqual(fs.readFileSync(image), before);
    assert.deepEqual(strays(), []);
  });

  test('a put killed at any moment leaves either the old image or the new one, whole', async () => {
    const image = path.join(work, 'd.img');
    importTree(path.join(work, 'tree'), image, { blocks: 200 });
    const before = fs.readFileSync(image);
    const big = path.join(work, 'big2.bin');
    fs.writeFileSync(big, Buffer.alloc(8 << 20, 0x33));
    for (const delayMs of [150, 400, 900]) {
      const child = spawn(process.execPath, [bin, 'put', image, big, `/k${delayMs}`], { cwd: work, stdio: 'ignore' });
      const exited = new Promise((r) => child.once('exit', r));
      await new Promise((r) => setTimeout(r, delayMs));
      child.kill('SIGKILL');
      await exited;
      const now = fs.readFileSync(image);
      if (!now.equals(before)) {
        const img = openImage(image, { readOnly: true });
        assert.deepEqual(img.fs.check(), []);
        assert.equal(img.fs.stat(`/k${delayMs}`).size, 8 << 20);
        img.close();
      }
      // A SIGKILL runs no clean-up: a hidden temporary file may stay; the image never is partial.
      for (const n of fs.readdirSync(work)) if (n.startsWith('.d.img.')) fs.rmSync(path.join(work, n));
    }
  });

  test('import with too few blocks fails with ENOSPC and leaves no file', () => {
    const image = path.join(work, 'e.img');
    const tree = path.join(work, 'bigtree');
    fs.mkdirSync(tree);
    fs.writeFileSync(path.join(tree, 'f'), Buffer.alloc(1 << 20, 1));
    const r = run('import', tree, image, '--blocks', '8');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /ENOSPC/);
    assert.equal(fs.existsSync(image), false);
    assert.deepEqual(strays(), []);
  });

  test('a one-block image opens read-only: ls works, put says EROFS and changes nothing', () => {
    const mk = zlib.gunzipSync(fs.readFileSync(new URL('./fixtures/mkyaffs2image-tree.img.gz', import.meta.url)));
    const image = path.join(work, 'one.img');
    fs.writeFileSync(image, mk.subarray(0, 64 * 2112));
    assert.equal(run('ls', image).status, 0);
    const r = run('put', image, path.join(work, 'host.txt'), '/x');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /EROFS|ENOSPC/);
    assert.deepEqual(fs.readFileSync(image), mk.subarray(0, 64 * 2112));
  });
});
