// bin/yaffs2.js runs the compiled bundle (dist/yaffs2.cjs) as CommonJS: no TypeScript loader and
// no ES-module loader at run time (issue 16: a CLI that starts in well under 0.1 s).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { assertLauncherDropsExtraCaCerts } from '@flashdiff/cli-kit/testing';

const bin = new URL('../bin/yaffs2.js', import.meta.url).pathname;
const bundle = new URL('../dist/yaffs2.cjs', import.meta.url).pathname;

test('yaffs2 --version runs dist/yaffs2.cjs with neither tsx nor the ES-module loader', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-bin-'));
  try {
    // Preloaded into the CLI's process: at exit, the modules it loaded.
    const probe = path.join(work, 'probe.cjs');
    const report = path.join(work, 'loaded.json');
    fs.writeFileSync(
      probe,
      `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(report)}, JSON.stringify({ files: Object.keys(require.cache), builtins: process.moduleLoadList })));\n`,
    );
    // A working tree being edited may have a stale bundle: the first run builds it (with esbuild).
    assert.equal(spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }).status, 0);
    const r = spawnSync(process.execPath, ['--require', probe, bin, '--version'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
    const loaded = JSON.parse(fs.readFileSync(report, 'utf8')) as { files: string[]; builtins: string[] };
    assert.ok(loaded.files.includes(bundle), `the bundle was not run: ${loaded.files.join(', ')}`);
    assert.deepEqual(loaded.files.filter((f) => /[\\/](tsx|esbuild)[\\/]|\.ts$/.test(f)), []);
    assert.deepEqual(loaded.builtins.filter((m) => m.includes('internal/modules/esm/loader') || m.includes('internal/modules/esm/translators')), []);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('an import with stderr a pipe loads neither child_process, net nor perf_hooks (about 5 ms of a start)', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-bin-'));
  try {
    const probe = path.join(work, 'probe.cjs');
    const report = path.join(work, 'loaded.json');
    fs.writeFileSync(probe, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(report)}, JSON.stringify(process.moduleLoadList)));\n`);
    fs.mkdirSync(path.join(work, 'tree'));
    fs.writeFileSync(path.join(work, 'tree', 'a.txt'), 'a\n');
    assert.equal(spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }).status, 0);
    const r = spawnSync(process.execPath, ['--require', probe, bin, 'import', path.join(work, 'tree'), path.join(work, 'a.img')], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, 'imported 1 objects, 2 bytes, into 11 blocks\n');
    const builtins = JSON.parse(fs.readFileSync(report, 'utf8')) as string[];
    assert.deepEqual(builtins.filter((m) => /^NativeModule (child_process|net|perf_hooks|dgram)$/.test(m)), []);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('extract loads no stream module (cli-kit attaches its stdout listener on first use); ls, info and fsck with stderr a pipe load no perf_hooks', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-bin-'));
  try {
    const probe = path.join(work, 'probe.cjs');
    const report = path.join(work, 'loaded.json');
    fs.writeFileSync(probe, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(report)}, JSON.stringify(process.moduleLoadList)));\n`);
    fs.mkdirSync(path.join(work, 'tree'));
    fs.writeFileSync(path.join(work, 'tree', 'a.txt'), 'a\n');
    const image = path.join(work, 'a.img');
    assert.equal(spawnSync(process.execPath, [bin, 'import', path.join(work, 'tree'), image], { encoding: 'utf8' }).status, 0);
    const loaded = (args: string[]): { builtins: string[]; stdout: string } => {
      const r = spawnSync(process.execPath, ['--require', probe, bin, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      assert.equal(r.status, 0, r.stderr);
      return { builtins: JSON.parse(fs.readFileSync(report, 'utf8')) as string[], stdout: r.stdout };
    };
    const extracted = loaded(['extract', image, path.join(work, 'out')]);
    assert.equal(fs.readFileSync(path.join(work, 'out', 'a.txt'), 'utf8'), 'a\n');
    assert.deepEqual(extracted.builtins.filter((m) => /^NativeModule (stream|net|perf_hooks|internal\/fs\/sync_write_stream)$/.test(m)), []);
    for (const args of [['ls', image], ['info', image], ['fsck', image]]) {
      const r = loaded(args);
      assert.ok(r.stdout.length > 0, args[0]);
      // What stdout on a pipe needs (net, the streams) is loaded; the progress clock is not.
      assert.deepEqual(r.builtins.filter((m) => /^NativeModule (perf_hooks|internal\/perf\/performance)$/.test(m)), [], args[0]);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

/**
 * A copy of the package's bin/ and dist/ in a temporary directory (timestamps kept, so the
 * bundle stays current: the sources it names are not there, as in an install without them).
 */
function packageCopy(work: string): { bin: string; dist: string; cache: string } {
  // The real bundle current first (a working tree being edited may have a stale one).
  assert.equal(spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }).status, 0);
  const root = path.join(work, 'pkg');
  fs.cpSync(path.dirname(bin), path.join(root, 'bin'), { recursive: true, preserveTimestamps: true });
  fs.mkdirSync(path.join(root, 'dist'));
  for (const name of ['yaffs2.cjs', 'yaffs2.inputs.json']) fs.cpSync(path.join(path.dirname(bundle), name), path.join(root, 'dist', name), { preserveTimestamps: true });
  return { bin: path.join(root, 'bin', 'yaffs2.js'), dist: path.join(root, 'dist'), cache: path.join(root, 'dist', 'yaffs2.cjs.cache') };
}

/** `yaffs2 import` of a small tree by `cli`: the image's bytes (the same with or without a code cache). */
function importWith(cli: string, work: string, name: string): Buffer {
  const tree = path.join(work, 'tree');
  if (!fs.existsSync(tree)) {
    fs.mkdirSync(path.join(tree, 'd'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'd', 'a.bin'), Buffer.alloc(9000, 3));
    fs.writeFileSync(path.join(tree, 'b.txt'), 'bee\n');
    fs.utimesSync(path.join(tree, 'd', 'a.bin'), 1_000_000, 1_000_000);
    fs.utimesSync(path.join(tree, 'b.txt'), 1_000_000, 1_000_000);
    fs.utimesSync(path.join(tree, 'd'), 1_000_000, 1_000_000);
    fs.utimesSync(tree, 1_000_000, 1_000_000);
  }
  const image = path.join(work, `${name}.img`);
  fs.rmSync(image, { force: true });
  const r = spawnSync(process.execPath, [cli, 'import', tree, image], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, 'imported 3 objects, 9004 bytes, into 11 blocks\n');
  return fs.readFileSync(image);
}

test('the code cache: written when missing, then used; a stale, corrupt or rejected one is never used, the run is the same, and it is rewritten', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-cache-'));
  try {
    const copy = packageCopy(work);
    const { checksum } = createRequire(import.meta.url)('../bin/bundle.js') as { checksum: (data: Buffer) => string };
    // The real bin's image (its first read of the tree also settles the files' access times).
    importWith(bin, work, 'warm');
    const expected = importWith(bin, work, 'real');
    // YAFFS2_CODE_CACHE=off: none read or written.
    const off = spawnSync(process.execPath, [copy.bin, '--version'], { encoding: 'utf8', env: { ...process.env, YAFFS2_CODE_CACHE: 'off' } });
    assert.equal(off.status, 0, off.stderr);
    assert.equal(fs.existsSync(copy.cache), false);
    // Missing: the run compiles from source and writes the cache at its exit.
    assert.deepEqual(importWith(copy.bin, work, 'first'), expected);
    assert.ok(fs.existsSync(copy.cache), 'no cache written');
    const written = fs.readFileSync(copy.cache);
    assert.match(written.toString('latin1', 0, 128), /^yaffs2-v8-code-cache-1 v\d+\.\d+\.\d+ \S+ \d+ [\d.]+ \d+ [0-9a-f.]+ *\n$/);
    // Present and fitting: used (so not rewritten), the same image.
    assert.deepEqual(importWith(copy.bin, work, 'cached'), expected);
    assert.deepEqual(fs.readFileSync(copy.cache), written, 'a fitting cache was rewritten: it was not used');
    const header = written.subarray(0, 128);
    const data = written.subarray(128);
    const flipped = Buffer.from(data);
    flipped[flipped.length >> 1] ^= 0x10;
    const garbage = Buffer.alloc(data.length, 0x5a);
    const withHeader = (body: Buffer): Buffer => {
      // This header's key with the body's own checksum: only V8 can turn it down.
      const text = header.toString('latin1').trimEnd().split(' ');
      text[text.length - 1] = checksum(body);
      const h = Buffer.alloc(128, 0x20);
      h.write(text.join(' '), 'latin1');
      h[127] = 0x0a;
      return Buffer.concat([h, body]);
    };
    const variants: [string, Buffer][] = [
      ['empty', Buffer.alloc(0)],
      ['truncated', written.subarray(0, 128 + 1000)],
      ['a flipped byte (checksum)', Buffer.concat([header, flipped])],
      ['another Node', Buffer.from(written.toString('latin1').replace(/ v\d+\.\d+\.\d+ /, ' v1.2.3 '), 'latin1')],
      ['garbage V8 rejects', withHeader(garbage)],
      ['header only', header],
    ];
    // The header less its checksum (the data a run writes depends on what it compiled).
    const key = (cache: Buffer): string => cache.toString('latin1', 0, 128).trimEnd().split(' ').slice(0, -1).join(' ');
    for (const [what, bytes] of variants) {
      fs.writeFileSync(copy.cache, bytes);
      assert.deepEqual(importWith(copy.bin, work, 'variant'), expected, `${what}: a different image`);
      const now = fs.readFileSync(copy.cache);
      assert.equal(key(now), key(written), `${what}: not rewritten for this bundle`);
      assert.ok(now.length > 128 + 1000 && !now.equals(bytes), `${what}: not rewritten`);
    }
    // A rebuilt bundle (another mtime): the old cache is stale, and replaced.
    const bundleCopy = path.join(copy.dist, 'yaffs2.cjs');
    const later = fs.statSync(bundleCopy).mtimeMs / 1000 + 5;
    fs.utimesSync(bundleCopy, later, later);
    assert.deepEqual(importWith(copy.bin, work, 'stale'), expected);
    assert.notEqual(key(fs.readFileSync(copy.cache)), key(written), 'the stale cache was kept');
    assert.match(key(fs.readFileSync(copy.cache)), new RegExp(` ${fs.statSync(bundleCopy).mtimeMs} `));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('the bundle is stale when a source it was built from is newer, or gone', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-stale-'));
  try {
    const copy = packageCopy(work);
    const root = path.dirname(copy.dist);
    const bundleJs = path.join(root, 'bin', 'bundle.js');
    const current = (): boolean => (createRequire(import.meta.url)(`${bundleJs}`) as { bundleIsCurrent: () => boolean }).bundleIsCurrent();
    assert.equal(current(), true);
    // The package's own sources back (empty files, older than the bundle): still current.
    const old = fs.statSync(path.join(copy.dist, 'yaffs2.cjs')).mtimeMs / 1000 - 60;
    const inputs = (JSON.parse(fs.readFileSync(path.join(copy.dist, 'yaffs2.inputs.json'), 'utf8')) as string[]).filter((p) => p.startsWith('src/'));
    assert.ok(inputs.includes('src/main.ts') && inputs.includes('src/stream-extract.ts'), inputs.join(' '));
    fs.mkdirSync(path.join(root, 'src'));
    for (const p of inputs) {
      fs.writeFileSync(path.join(root, p), '');
      fs.utimesSync(path.join(root, p), old, old);
    }
    assert.equal(current(), true);
    // A recorded source newer than the bundle: stale; older again: current.
    const main = path.join(root, 'src', 'main.ts');
    fs.utimesSync(main, old + 120, old + 120);
    assert.equal(current(), false);
    fs.utimesSync(main, old, old);
    assert.equal(current(), true);
    // Gone while its directory is there: stale; the whole directory gone: current.
    fs.rmSync(main);
    assert.equal(current(), false);
    fs.rmSync(path.join(root, 'src'), { recursive: true });
    assert.equal(current(), true);
    // No list of inputs (a bundle from an older build): stale.
    fs.rmSync(path.join(copy.dist, 'yaffs2.inputs.json'));
    assert.equal(current(), false);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('run as a command, the CLI drops NODE_EXTRA_CA_CERTS (no TLS here; Node parses the bundle at every start); node bin/yaffs2.js leaves it to Node', { skip: process.platform === 'win32' && 'the shell header is for POSIX shells' }, () => {
  assertLauncherDropsExtraCaCerts(bin, 'yaffs2');
});
