/**
 * Root file systems: device nodes, FIFOs and sockets, owners, names that are not UTF-8 and hard
 * links survive import → image → extract; `ls -l` shows types and major, minor numbers.
 * Device nodes need root to make (on the host and when extracting): those checks run as root.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { extractTree, importTree, openImage } from '../src/index.ts';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
let work = '';
const bin = new URL('../bin/yaffs2.js', import.meta.url).pathname;
/** "café" in Latin-1: not UTF-8. */
const rawName = Buffer.from([0x63, 0x61, 0x66, 0xe9]);

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-rootfs-'));
  const tree = path.join(work, 'tree');
  fs.mkdirSync(path.join(tree, 'dev'), { recursive: true });
  const must = (cmd: string, ...args: string[]): void => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  };
  must('mkfifo', '-m', '640', path.join(tree, 'dev', 'fifo'));
  must('python3', '-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path.join(tree, 'dev', 'sock'));
  if (isRoot) {
    must('mknod', '-m', '666', path.join(tree, 'dev', 'null'), 'c', '1', '3');
    must('mknod', '-m', '660', path.join(tree, 'dev', 'loop0'), 'b', '7', '0');
    must('mknod', '-m', '600', path.join(tree, 'dev', 'big'), 'c', '300', '70000'); // needs the 32-bit split encoding
  }
  fs.writeFileSync(Buffer.concat([Buffer.from(tree + '/'), rawName]), 'latin-1 name\n');
  fs.symlinkSync(Buffer.from([0x2e, 0x2f, 0x63, 0x61, 0x66, 0xe9]), path.join(tree, 'to-raw'));
  fs.writeFileSync(path.join(tree, 'owned'), 'x');
  if (isRoot) fs.chownSync(path.join(tree, 'owned'), 1234, 5678);
  fs.linkSync(path.join(tree, 'owned'), path.join(tree, 'owned-too'));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

describe('root file systems', () => {
  test('import and extract keep special files, raw names, owners and hard links', () => {
    const image = path.join(work, 'rootfs.img');
    importTree(path.join(work, 'tree'), image);
    const img = openImage(image, { readOnly: true });
    const out = path.join(work, 'out');
    const r = extractTree(img.fs, out);
    img.close();
    // A FIFO is made without root; a socket never is (it is a live endpoint), and says so.
    assert.ok(fs.lstatSync(path.join(out, 'dev', 'fifo')).isFIFO());
    assert.equal(fs.lstatSync(path.join(out, 'dev', 'fifo')).mode & 0o777, 0o640);
    assert.equal(fs.existsSync(path.join(out, 'dev', 'sock')), false);
    assert.ok(r.skipped.some((s) => s.startsWith('/dev/sock: a socket')), r.skipped.join('\n'));
    // The non-UTF-8 name and a symlink target naming it, byte for byte.
    assert.equal(fs.readFileSync(Buffer.concat([Buffer.from(out + '/'), rawName]), 'utf8'), 'latin-1 name\n');
    assert.deepEqual(fs.readlinkSync(path.join(out, 'to-raw'), { encoding: 'buffer' }), Buffer.from([0x2e, 0x2f, 0x63, 0x61, 0x66, 0xe9]));
    assert.equal(fs.statSync(path.join(out, 'owned')).ino, fs.statSync(path.join(out, 'owned-too')).ino);
    if (isRoot) {
      for (const [name, major, minor, mode] of [['null', 1, 3, 0o666], ['loop0', 7, 0, 0o660], ['big', 300, 70000, 0o600]] as const) {
        const st = fs.lstatSync(path.join(out, 'dev', name));
        assert.ok(name === 'loop0' ? st.isBlockDevice() : st.isCharacterDevice(), name);
        assert.equal(st.rdev, fs.lstatSync(path.join(work, 'tree', 'dev', name)).rdev, `${name} ${major},${minor}`);
        assert.equal(st.mode & 0o777, mode, name);
      }
      assert.equal(fs.statSync(path.join(out, 'owned')).uid, 1234);
      assert.equal(fs.statSync(path.join(out, 'owned')).gid, 5678);
    }
  });

  test('ls -l shows device, FIFO and socket types with major, minor numbers', (t) => {
    const image = path.join(work, 'rootfs.img');
    const ls = spawnSync(process.execPath, [bin, 'ls', '-l', image, '/dev'], { encoding: 'utf8' });
    assert.equal(ls.status, 0, ls.stderr);
    assert.match(ls.stdout, /^prw-r-----.* fifo$/m);
    assert.match(ls.stdout, /^s.* sock$/m);
    if (!isRoot) {
      t.skip('device nodes need root to make on the host');
      return;
    }
    assert.match(ls.stdout, /^crw-rw-rw-.*\s1, 3 .* null$/m);
    assert.match(ls.stdout, /^brw-rw----.*\s7, 0 .* loop0$/m);
    assert.match(ls.stdout, /^crw-------.*300, 70000 .* big$/m);
    const names = spawnSync(process.execPath, [bin, 'ls', image], { encoding: 'utf8' }).stdout;
    assert.match(names, /^caf\\xe9$/m);
  });
});
