import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { execFileSync, spawnSync } from 'node:child_process';
import { extractTree, importTree, openImage, createImage } from '../src/index.ts';
import { makeFixtureTree } from './fixtures/fixture-tree.ts';

let work = '';
const bin = new URL('../bin/yaffs2.js', import.meta.url).pathname;

/** Compares two host trees: names, types, file bytes, symlink targets, modes, hard-link groups. */
function compareTrees(a: string, b: string): void {
  const list = (root: string): Map<string, fs.Stats> => {
    const out = new Map<string, fs.Stats>();
    const walk = (d: string): void => {
      for (const name of fs.readdirSync(d)) {
        const p = path.join(d, name);
        const st = fs.lstatSync(p);
        out.set(path.relative(root, p), st);
        if (st.isDirectory()) walk(p);
      }
    };
    walk(root);
    return out;
  };
  const la = list(a);
  const lb = list(b);
  assert.deepEqual([...lb.keys()].sort(), [...la.keys()].sort());
  for (const [rel, sa] of la) {
    const sb = lb.get(rel)!;
    const pa = path.join(a, rel);
    const pb = path.join(b, rel);
    assert.equal(sb.isDirectory(), sa.isDirectory(), rel);
    assert.equal(sb.isSymbolicLink(), sa.isSymbolicLink(), rel);
    if (sa.isFile()) {
      assert.deepEqual(fs.readFileSync(pb), fs.readFileSync(pa), rel);
      assert.equal(sb.mode & 0o777, sa.mode & 0o777, `${rel} mode`);
      assert.equal(sb.nlink, sa.nlink, `${rel} links`);
    }
    if (sa.isSymbolicLink()) assert.equal(fs.readlinkSync(pb), fs.readlinkSync(pa), rel);
  }
}

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-image-'));
  makeFixtureTree(path.join(work, 'tree'));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

describe('real images', () => {
  test('an image made by mkyaffs2image extracts byte-exact against the fixture tree', () => {
    const image = path.join(work, 'mk.img');
    fs.writeFileSync(image, zlib.gunzipSync(fs.readFileSync(new URL('./fixtures/mkyaffs2image-tree.img.gz', import.meta.url))));
    const img = openImage(image, { readOnly: true });
    assert.equal(img.layout, 'mkyaffs2');
    extractTree(img.fs, path.join(work, 'mk-out'));
    img.close();
    compareTrees(path.join(work, 'tree'), path.join(work, 'mk-out'));
    assert.equal(fs.statSync(path.join(work, 'mk-out', 'size-2049')).mtimeMs, 1_700_000_000_000);
  });

  test('yaffs2 import writes images that Debian unyaffs extracts byte for byte', () => {
    const which = spawnSync('sh', ['-c', 'command -v unyaffs']);
    assert.equal(which.status, 0, 'unyaffs is not installed (apt-get install unyaffs; .ci/run installs it)');
    const image = path.join(work, 'ours.img');
    importTree(path.join(work, 'tree'), image);
    const out = path.join(work, 'unyaffs-out');
    execFileSync('unyaffs', [image, out], { stdio: 'pipe' });
    compareTrees(path.join(work, 'tree'), out);
    // and our own extract agrees
    const img = openImage(image, { readOnly: true });
    extractTree(img.fs, path.join(work, 'ours-out'));
    img.close();
    compareTrees(path.join(work, 'tree'), path.join(work, 'ours-out'));
  });

  test('Linux-style headers (extra info in tags) and the mtd layout are read back; layout is detected', () => {
    const image = path.join(work, 'mtd.img');
    const img = createImage(image, { blocks: 12, layout: 'mtd', headerTags: 'linux', checkpoint: false });
    img.fs.mkdir('/dir');
    img.fs.writeFile('/dir/file', new Uint8Array(5000).fill(7));
    img.fs.symlink('dir/file', '/link');
    img.close();
    const again = openImage(image, { readOnly: true });
    assert.equal(again.layout, 'mtd');
    assert.equal(again.fs.stats.mountedFrom, 'scan');
    assert.deepEqual(again.fs.readFile('/link'), new Uint8Array(5000).fill(7));
    again.close();
  });
});

describe('CLI', () => {
  const run = (...args: string[]): { status: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: work });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  test('mkfs, put, mkdir, ls -l -R, cat, get, rm, info --json, fsck', () => {
    const image = path.join(work, 'cli.img');
    assert.equal(run('mkfs', image, '--blocks', '16').status, 0);
    fs.writeFileSync(path.join(work, 'host.txt'), 'from the host\n');
    assert.equal(run('put', image, path.join(work, 'host.txt'), '/h.txt').status, 0);
    assert.equal(run('mkdir', image, '/sub').status, 0);
    const ls = run('ls', '-l', '-R', image);
    assert.match(ls.stdout, /h\.txt/);
    assert.match(ls.stdout, /^d.* sub$/m);
    assert.equal(run('cat', image, '/h.txt').stdout, 'from the host\n');
    assert.equal(run('get', image, '/h.txt', path.join(work, 'back.txt')).status, 0);
    assert.equal(fs.readFileSync(path.join(work, 'back.txt'), 'utf8'), 'from the host\n');
    assert.equal(run('rm', image, '/h.txt').status, 0);
    assert.equal(run('cat', image, '/h.txt').status, 1);
    const info = JSON.parse(run('info', image, '--json').stdout) as { objects: { directories: number; files: number }; layout: string };
    assert.equal(info.objects.directories, 1);
    assert.equal(info.objects.files, 0);
    assert.equal(info.layout, 'mkyaffs2');
    const fsck = run('fsck', image);
    assert.equal(fsck.status, 0, fsck.stdout + fsck.stderr);
  });

  test('read-only commands leave the image bytes and mtime unchanged and create no sidecar', () => {
    const image = path.join(work, 'ro.img');
    fs.writeFileSync(image, zlib.gunzipSync(fs.readFileSync(new URL('./fixtures/mkyaffs2image-tree.img.gz', import.meta.url))));
    const past = new Date('2020-01-01T00:00:00Z');
    fs.utimesSync(image, past, past);
    const bytesBefore = fs.readFileSync(image);
    for (const args of [['ls', '-l', '-R', image], ['cat', image, '/size-2049'], ['info', image], ['fsck', image], ['extract', image, path.join(work, 'ro-out')], ['get', image, '/size-1', path.join(work, 'ro-get')]]) {
      const r = run(...args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    }
    assert.deepEqual(fs.readFileSync(image), bytesBefore);
    assert.equal(fs.statSync(image).mtimeMs, past.getTime());
    assert.equal(fs.existsSync(`${image}.nandmeta.json`), false);
  });

  test('corrupt inputs: one line on stderr, non-zero exit or a clean report, never a stack trace', () => {
    const good = zlib.gunzipSync(fs.readFileSync(new URL('./fixtures/mkyaffs2image-tree.img.gz', import.meta.url)));
    const cases: Record<string, Uint8Array> = {};
    cases['truncated'] = good.subarray(0, 300_000);
    cases['truncated-at-record'] = good.subarray(0, 2112 * 70);
    const random = new Uint8Array(2112 * 128);
    let x = 12345;
    for (let i = 0; i < random.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      random[i] = x >>> 24;
    }
    cases['random'] = random;
    const flipped = Uint8Array.from(good);
    for (let page = 0; page < 134; page += 3) flipped[page * 2112 + 2048 + (page % 16)] ^= 0x11; // two-bit flips in tags
    cases['tag-bit-flips'] = flipped;
    // A parent loop: rewrite the parent of object 257's header and its tags stay valid (header is data).
    const loop = Uint8Array.from(good);
    const view = new DataView(loop.buffer);
    // page 0 holds the first object header; make it its own parent's child by pointing it at a later directory
    view.setUint32(4, 257, true);
    cases['parent-loop'] = loop;
    for (const [name, content] of Object.entries(cases)) {
      const image = path.join(work, `bad-${name}.img`);
      fs.writeFileSync(image, content);
      for (const args of [['ls', '-R', image], ['fsck', image], ['info', image]]) {
        const r = run(...args);
        assert.ok(!/\n\s+at /.test(r.stderr), `${name} ${args[0]}: stack trace`);
        assert.ok(r.stderr.trim().split('\n').length <= 1, `${name} ${args[0]}: more than one line: ${r.stderr}`);
        if (r.status !== 0) assert.ok(r.stderr.startsWith('yaffs2: '), `${name} ${args[0]}: ${r.stderr}`);
      }
      assert.deepEqual(fs.readFileSync(image), Buffer.from(content), `${name}: modified`);
    }
    // the loop lands in lost+found, which fsck reports
    const r = run('fsck', path.join(work, 'bad-parent-loop.img'));
    assert.equal(r.status, 1);
    assert.match(r.stdout, /lost\+found/);
  });

  test('usage errors exit 2 with one line', () => {
    const r = run('mkfs', path.join(work, 'x.img'), '--blocks', 'lots');
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });
});
