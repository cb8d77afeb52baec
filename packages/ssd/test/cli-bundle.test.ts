/**
 * The compiled ssdsim (bin/ssdsim.js, bin/build.js, bin/bundle.js): built on first run, rebuilt
 * when a source is newer, and never in the way: a bundle that cannot be built or does not load
 * leaves the CLI running from the TypeScript sources through tsx. The bundled CLI, its
 * simulation thread and its sweep workers load no tsx at all. Each test works on a copy of the
 * package (bin/, src/, scenarios/, package.json) under packages/ssd/.tmp/, so that the real
 * dist/ the other CLI tests run is never touched. No upstream counterpart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const SMALL = ['--channels', '2', '--dies', '1', '--blocks', '16', '--pages-per-block', '16', '--writes', '2x', '--seed', '3'];

/** A copy of the package to build and break; removed by the caller. */
function copyPackage(): string {
  mkdirSync(join(packageDir, '.tmp'), { recursive: true });
  const dir = mkdtempSync(join(packageDir, '.tmp', 'bundle-test-'));
  for (const part of ['bin', 'src', 'scenarios', 'package.json']) cpSync(join(packageDir, part), join(dir, part), { recursive: true });
  return dir;
}

function ssdsim(dir: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [join(dir, 'bin', 'ssdsim.js'), ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Makes `import 'tsx/…'` from the copy fail: a tsx package that throws, found before the real one. */
function poisonTsx(dir: string): void {
  const fake = join(dir, 'node_modules', 'tsx');
  mkdirSync(join(fake, 'esm'), { recursive: true });
  writeFileSync(join(fake, 'package.json'), JSON.stringify({ name: 'tsx', type: 'module', exports: { './esm/api': './esm/api.js' } }));
  writeFileSync(join(fake, 'esm', 'api.js'), "throw new Error('tsx was loaded');\n");
}

const manifest = (dir: string) => join(dir, 'dist', 'ssdsim.inputs.json');

test('a missing bundle is built on the first run; run, replay and sweep then need no tsx (main, scenario thread, sweep workers)', () => {
  const dir = copyPackage();
  try {
    assert.equal(existsSync(join(dir, 'dist')), false);
    const version = ssdsim(dir, ['--version']);
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stdout, `${JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')).version}\n`);
    assert.equal(version.stderr, '');
    assert.ok(existsSync(manifest(dir)) && existsSync(join(dir, 'dist', 'ssdsim-thread.mjs')) && existsSync(join(dir, 'dist', 'ssdsim-sweep-worker.mjs')));
    poisonTsx(dir);
    const run = ssdsim(dir, ['run', ...SMALL, '--json']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, '');
    const fromSources = spawnSync(process.execPath, [join(packageDir, 'bin', 'ssdsim.js'), 'run', ...SMALL, '--json'], { encoding: 'utf8', env: { ...process.env, SSDSIM_BUNDLE: 'off' } });
    assert.equal(fromSources.status, 0, fromSources.stderr);
    // Everything but the wall-clock times.
    const drop = (text: string) => JSON.stringify(JSON.parse(text, (key: string, value: unknown) => (/wall/i.test(key) ? undefined : value)));
    assert.ok(drop(run.stdout) === drop(fromSources.stdout), 'the same report from the bundle as from the sources');
    const trace = join(packageDir, 'test', 'fixtures', 'traces', 'blkparse-sample.txt');
    const replay = ssdsim(dir, ['replay', trace, '--blocks', '32']);
    assert.equal(replay.status, 0, replay.stderr);
    assert.match(replay.stdout, /WAF /);
    const out = join(dir, 'sweep-out');
    const sweep = ssdsim(dir, ['sweep', ...SMALL, '--vary', 'op=0.15,0.3', '--workers', '2', '--dir', out]);
    assert.equal(sweep.status, 0, sweep.stderr);
    assert.equal(readFileSync(join(out, 'summary.csv'), 'utf8').trim().split('\n').length, 3);
    const bad = ssdsim(dir, ['run', '--blocks', 'many']);
    assert.notEqual(bad.status, 0);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, /^ssdsim: .*--blocks/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a source newer than the bundle rebuilds it; a current bundle is not rebuilt', () => {
  const dir = copyPackage();
  try {
    assert.equal(ssdsim(dir, ['--version']).status, 0);
    const built = statSync(manifest(dir)).mtimeMs;
    assert.equal(ssdsim(dir, ['--version']).status, 0);
    assert.equal(statSync(manifest(dir)).mtimeMs, built, 'nothing newer: not rebuilt');
    // The edited source dated a minute after the build, whatever the file system's time resolution.
    const later = built / 1000 + 60;
    const source = join(dir, 'src', 'cli.ts');
    writeFileSync(source, readFileSync(source, 'utf8').replace(".description('", ".description('(edited) "));
    utimesSync(source, later, later);
    const help = ssdsim(dir, ['--help']);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /\(edited\) /, 'the edit is in the output');
    assert.ok(statSync(manifest(dir)).mtimeMs > built, 'rebuilt');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a truncated bundle is rebuilt; a corrupt one of the recorded size, or one that cannot be built, runs from the sources', () => {
  const dir = copyPackage();
  try {
    assert.equal(ssdsim(dir, ['--version']).status, 0);
    const entry = join(dir, 'dist', 'ssdsim.mjs');
    const good = readFileSync(entry);
    writeFileSync(entry, good.subarray(0, 100));
    const truncated = ssdsim(dir, ['--version']);
    assert.equal(truncated.status, 0, truncated.stderr);
    assert.equal(truncated.stderr, '');
    assert.deepEqual(readFileSync(entry), good, 'rebuilt whole');

    writeFileSync(entry, Buffer.alloc(good.length, '('));
    const corrupt = ssdsim(dir, ['run', ...SMALL]);
    assert.equal(corrupt.status, 0, corrupt.stderr);
    assert.match(corrupt.stdout, /WAF /);
    assert.match(corrupt.stderr, /^ssdsim: running from the TypeScript sources \(cannot load .*ssdsim\.mjs: /);

    rmSync(join(dir, 'dist'), { recursive: true, force: true });
    writeFileSync(join(dir, 'dist'), 'not a folder\n');
    const unbuildable = ssdsim(dir, ['--version']);
    assert.equal(unbuildable.status, 0, unbuildable.stderr);
    assert.match(unbuildable.stdout, /^\d+\.\d+\.\d+\n$/);
    assert.match(unbuildable.stderr, /^ssdsim: running from the TypeScript sources \(cannot build /);
    const quiet = ssdsim(dir, ['--version'], { SSDSIM_BUNDLE_QUIET: '1' });
    assert.equal(quiet.stderr, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
