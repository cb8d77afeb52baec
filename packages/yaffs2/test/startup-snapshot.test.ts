// The startup snapshot (src/startup-snapshot.ts, bin/yaffs2.js's shell header, bin/build.js
// buildSnapshot): run as a command, the CLI starts from dist/yaffs2.blob when it fits and
// otherwise as `node bin/yaffs2.js`, and either way does exactly what `node bin/yaffs2.js` does.
// Each case runs in a copy of the package (bin/, the bundle, package.json) with a blob made
// there, so the real dist/ is never touched; a preloaded probe (NODE_OPTIONS=--require) tells
// which way the process started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundleIsCurrent } from '../src/startup-snapshot.ts';

const packageDir = new URL('..', import.meta.url).pathname;
const realBin = path.join(packageDir, 'bin', 'yaffs2.js');
const unix = process.platform !== 'win32';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function plain(r: SpawnSyncReturns<string>): Run {
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A copy of the package (bin/, the built bundle and its inputs list, package.json) with a blob made there. */
function packageCopy(work: string): { dir: string; bin: string; dist: string } {
  // The real bundle current first (a working tree being edited: the bin builds it).
  assert.equal(spawnSync(process.execPath, [realBin, '--version'], { encoding: 'utf8' }).status, 0);
  const dir = path.join(work, 'pkg');
  fs.mkdirSync(path.join(dir, 'dist'), { recursive: true });
  fs.cpSync(path.join(packageDir, 'bin'), path.join(dir, 'bin'), { recursive: true });
  fs.copyFileSync(path.join(packageDir, 'package.json'), path.join(dir, 'package.json'));
  for (const f of ['yaffs2.cjs', 'yaffs2.inputs.json']) fs.copyFileSync(path.join(packageDir, 'dist', f), path.join(dir, 'dist', f));
  const dist = path.join(dir, 'dist');
  // The bundle dated before the blob (as a build leaves them) and after bin/build.js, the one
  // source it was built from that is here (so it is current).
  const before = new Date(Date.now() - 60_000);
  const older = new Date(Date.now() - 120_000);
  for (const f of fs.readdirSync(path.join(dir, 'bin'))) fs.utimesSync(path.join(dir, 'bin', f), older, older);
  fs.utimesSync(path.join(dist, 'yaffs2.cjs'), before, before);
  const made = spawnSync(process.execPath, ['-e', `process.exitCode = require(${JSON.stringify(path.join(dir, 'bin', 'build.js'))}).buildSnapshot() ? 0 : 1`], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  assert.ok(fs.existsSync(path.join(dist, 'yaffs2.blob')));
  assert.equal(fs.readFileSync(path.join(dist, 'yaffs2.blob.node'), 'utf8'), `${process.execPath}\n`);
  return { dir, bin: path.join(dir, 'bin', 'yaffs2.js'), dist };
}

/** A small tree and its image (made by the real bin). */
function sampleImage(work: string): string {
  const tree = path.join(work, 'tree');
  fs.mkdirSync(path.join(tree, 'd', 'e'), { recursive: true });
  for (let i = 0; i < 12; i++) fs.writeFileSync(path.join(tree, i % 2 ? 'd' : path.join('d', 'e'), `f${i}`), Buffer.alloc(i * 1500 + 7, i + 1));
  fs.writeFileSync(path.join(tree, 'top.txt'), 'yaffs2\n');
  fs.chmodSync(path.join(tree, 'top.txt'), 0o640);
  fs.symlinkSync('top.txt', path.join(tree, 'link'));
  const image = path.join(work, 'tree.img');
  const r = spawnSync(process.execPath, [realBin, 'import', tree, image], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return image;
}

/** A tree as a list: paths, types, modes, sizes, mtimes, contents. */
function listing(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const st = fs.lstatSync(p);
      const what = st.isSymbolicLink() ? `-> ${fs.readlinkSync(p)}` : st.isFile() ? fs.readFileSync(p).toString('base64') : 'dir';
      out.push(`${rel}${name} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs} ${what}`);
      if (st.isDirectory()) walk(p, `${rel}${name}/`);
    }
  };
  walk(root, '');
  return out;
}

/** How the command's process started, as the probe saw it: from the snapshot, and whether the bundle was loaded as a module (the bin ran). */
interface Started {
  snapshot: boolean;
  binRan: boolean;
}

/**
 * The commands run through `command` (the bin as an executable) and through `node realBin`:
 * the same status, stdout and stderr, and the same extracted tree; returns how each started.
 */
function sameAsNodeBin(work: string, image: string, command: string, env: NodeJS.ProcessEnv = process.env, every = false): Started[] {
  const probe = path.join(work, 'probe.cjs');
  const report = path.join(work, 'probe.json');
  fs.writeFileSync(
    probe,
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(report)}, JSON.stringify({ snapshot: process.execArgv.includes('--snapshot-blob'), binRan: Object.keys(require.cache).some((f) => f.endsWith('yaffs2.cjs')) })));\n`,
  );
  const started: Started[] = [];
  // Every command kind (with a fitting blob), or a start and an extract (the ways around it).
  const cases = every
    ? [['--version'], ['ls', '-l', '-R', image], ['info', image], ['cat', image, '/top.txt'], ['extract', image], ['extract', path.join(work, 'missing.img')], ['nonsense']]
    : [['--version'], ['extract', image]];
  for (const [i, args] of cases.entries()) {
    const a = args[0] === 'extract' ? [...args, path.join(work, `out-${i}-a`)] : args;
    const b = args[0] === 'extract' ? [...args, path.join(work, `out-${i}-b`)] : args;
    fs.rmSync(report, { force: true });
    const ours = plain(spawnSync(command, a, { encoding: 'utf8', env: { ...env, NODE_OPTIONS: `--require ${probe}` } }));
    started.push(JSON.parse(fs.readFileSync(report, 'utf8')) as Started);
    const reference = plain(spawnSync(process.execPath, [realBin, ...b], { encoding: 'utf8' }));
    const clean = (r: Run): Run => ({ ...r, stderr: r.stderr.replaceAll(path.join(work, `out-${i}-b`), path.join(work, `out-${i}-a`)) });
    assert.deepEqual(ours, clean(reference), args.join(' '));
    if (args[0] === 'extract' && reference.status === 0) assert.deepEqual(listing(path.join(work, `out-${i}-a`)), listing(path.join(work, `out-${i}-b`)));
  }
  return started;
}

const all = (started: Started[], expected: Started): void => {
  for (const s of started) assert.deepEqual(s, expected);
};

test('run as a command with a blob that fits, the CLI starts from the snapshot and does what node bin/yaffs2.js does (also through a symlink, as npm links it)', { skip: !unix }, () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-snapshot-'));
  try {
    const pkg = packageCopy(work);
    const image = sampleImage(work);
    all(sameAsNodeBin(work, image, pkg.bin, process.env, true), { snapshot: true, binRan: false });
    const link = path.join(work, 'yaffs2');
    fs.symlinkSync(path.relative(work, pkg.bin), link);
    all(sameAsNodeBin(work, image, link), { snapshot: true, binRan: false });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('no snapshot, the same results: YAFFS2_SNAPSHOT=off, no blob, a blob older than the bundle, made by another node or a changed one, another node first on PATH', { skip: !unix }, () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-snapshot-'));
  try {
    const pkg = packageCopy(work);
    const image = sampleImage(work);
    const blob = path.join(pkg.dist, 'yaffs2.blob');
    const stamp = path.join(pkg.dist, 'yaffs2.blob.node');
    const none: Started = { snapshot: false, binRan: true };
    all(sameAsNodeBin(work, image, pkg.bin, { ...process.env, YAFFS2_SNAPSHOT: 'off' }), none);
    // Another `node` first on PATH (a wrapper of this one): not the node that made the blob.
    const otherNode = path.join(work, 'other-node');
    fs.mkdirSync(otherNode);
    fs.writeFileSync(path.join(otherNode, 'node'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} "$@"\n`, { mode: 0o755 });
    all(sameAsNodeBin(work, image, pkg.bin, { ...process.env, PATH: `${otherNode}:${process.env.PATH ?? ''}` }), none);
    // The stamp names another node; then its date is not this node's (a binary replaced in place).
    const stampText = fs.readFileSync(stamp, 'utf8');
    const stampTime = fs.statSync(stamp).mtime;
    fs.writeFileSync(stamp, '/nonexistent/node\n');
    fs.utimesSync(stamp, stampTime, stampTime);
    all(sameAsNodeBin(work, image, pkg.bin), none);
    fs.writeFileSync(stamp, stampText);
    all(sameAsNodeBin(work, image, pkg.bin), none);
    fs.utimesSync(stamp, stampTime, stampTime);
    all(sameAsNodeBin(work, image, pkg.bin), { snapshot: true, binRan: false }); // restored: fits again
    // A blob older than the bundle (the bin rebuilt a stale bundle since), then none at all.
    const later = new Date(fs.statSync(blob).mtimeMs + 5000);
    fs.utimesSync(path.join(pkg.dist, 'yaffs2.cjs'), later, later);
    all(sameAsNodeBin(work, image, pkg.bin), none);
    fs.rmSync(blob);
    all(sameAsNodeBin(work, image, pkg.bin), none);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('a blob made from another bundle than the one beside the bin runs the bin instead (its main checks path, size, mtime and inode)', { skip: !unix }, () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-snapshot-'));
  try {
    const pkg = packageCopy(work);
    const image = sampleImage(work);
    const bundle = path.join(pkg.dist, 'yaffs2.cjs');
    const blob = path.join(pkg.dist, 'yaffs2.blob');
    // The same bytes and dates in a new file (another inode): the shell still takes the blob.
    const st = fs.statSync(bundle);
    fs.copyFileSync(bundle, `${bundle}.new`);
    fs.renameSync(`${bundle}.new`, bundle);
    fs.utimesSync(bundle, st.atime, st.mtime);
    assert.ok(fs.statSync(blob).mtimeMs > fs.statSync(bundle).mtimeMs);
    all(sameAsNodeBin(work, image, pkg.bin), { snapshot: true, binRan: true });
    // A blob in a moved package (made for another path) likewise.
    const moved = path.join(work, 'moved');
    fs.renameSync(pkg.dir, moved);
    all(sameAsNodeBin(work, image, path.join(moved, 'bin', 'yaffs2.js')), { snapshot: true, binRan: true });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test("the snapshot's staleness check is bin/bundle.js's: a newer source, or a missing one in a directory that exists, makes the bundle stale", () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-snapshot-'));
  try {
    const dist = path.join(work, 'dist');
    fs.mkdirSync(dist);
    fs.mkdirSync(path.join(work, 'src'));
    const bundle = path.join(dist, 'yaffs2.cjs');
    fs.writeFileSync(bundle, '');
    fs.writeFileSync(path.join(work, 'src', 'a.ts'), '');
    fs.writeFileSync(path.join(dist, 'yaffs2.inputs.json'), JSON.stringify(['src/a.ts', 'gone/b.ts']));
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(path.join(work, 'src', 'a.ts'), old, old);
    assert.equal(bundleIsCurrent(work, bundle), true); // gone/ does not exist: nothing to be newer
    fs.utimesSync(path.join(work, 'src', 'a.ts'), new Date(), new Date(Date.now() + 5000));
    assert.equal(bundleIsCurrent(work, bundle), false);
    fs.utimesSync(path.join(work, 'src', 'a.ts'), old, old);
    fs.mkdirSync(path.join(work, 'gone'));
    assert.equal(bundleIsCurrent(work, bundle), false); // its directory exists: the source was removed
    fs.rmdirSync(path.join(work, 'gone'));
    fs.writeFileSync(path.join(dist, 'yaffs2.inputs.json'), '[]');
    assert.equal(bundleIsCurrent(work, bundle), false);
    fs.rmSync(path.join(dist, 'yaffs2.inputs.json'));
    assert.equal(bundleIsCurrent(work, bundle), false);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});
