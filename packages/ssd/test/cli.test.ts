// The ssdsim CLI, spawned as a user would run it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(repoRoot, 'packages/ssd/bin/ssdsim.js');

function ssdsim(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('ssdsim CLI', () => {
  test('run --json prints one report object', () => {
    const r = ssdsim('run', '--preset', 'seed-mini', '--op', '0.2', '--gc', 'greedy', '--gc-unit', 'superblock', '--workload', 'uniform', '--writes', '10x', '--seed', '3', '--json');
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const report = JSON.parse(lines[0]!);
    assert.equal(report.hostPageWrites, 1800);
    assert.equal(report.waf, report.nandPageWrites / report.hostPageWrites);
    assert.ok(report.waf > 1);
    assert.equal(report.nandPageWrites, report.hostPageWrites + report.gcMovedPages);
    for (const k of ['min', 'max', 'mean', 'stddev']) assert.equal(typeof report.erase[k], 'number');
    assert.ok(report.erase.min <= report.erase.mean && report.erase.mean <= report.erase.max);
    assert.equal(report.config.userPages, 180);
    assert.equal(report.config.ftl.overProvisioning, 0.2);
    assert.equal(report.config.ftl.gcUnit, 'superblock');
    assert.equal(report.config.geometry.channels, 4);
    assert.equal(report.precondition.hostPageWrites, 180);
    assert.ok(report.timeSeries.length >= 50);
  });

  test('geometry flags override the preset; --no-precondition; hotcold; wear leveling none', () => {
    const r = ssdsim('run', '--preset', 'ssd-small', '--channels', '2', '--dies', '1', '--blocks', '32', '--pages-per-block', '16', '--op', '25%', '--gc', 'cost-benefit', '--workload', 'hotcold', '--writes', '5000', '--wear-leveling', 'none', '--no-precondition', '--json');
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual([report.config.geometry.channels, report.config.geometry.diesPerChannel, report.config.geometry.blocksPerDie, report.config.geometry.pagesPerBlock], [2, 1, 32, 16]);
    assert.equal(report.config.userPages, Math.floor((2 * 32 * 16) / 1.25));
    assert.equal(report.precondition, null);
    assert.equal(report.hostPageWrites, 5000);
    assert.equal(report.config.ftl.dynamicWearLeveling, false);
    assert.equal(report.config.workload.kind, 'hotcold');
  });

  test('same seed, same report; another seed, another report', () => {
    const a = JSON.parse(ssdsim('run', '--preset', 'seed-mini', '--writes', '5x', '--seed', '9', '--json').stdout);
    const b = JSON.parse(ssdsim('run', '--preset', 'seed-mini', '--writes', '5x', '--seed', '9', '--json').stdout);
    const c = JSON.parse(ssdsim('run', '--preset', 'seed-mini', '--writes', '5x', '--seed', '10', '--json').stdout);
    assert.equal(a.nandPageWrites, b.nandPageWrites);
    assert.notEqual(a.nandPageWrites, c.nandPageWrites);
  });

  test('human-readable output names WAF and the OP definition', () => {
    const r = ssdsim('run', '--preset', 'seed-mini', '--writes', '2x');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /WAF \d+\.\d+ = \d+ NAND page programs \/ 360 host page writes/);
    assert.match(r.stdout, /\(physical - user\) \/ user/);
  });

  test('--help explains the OP definition', () => {
    const r = ssdsim('run', '--help');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /\(physical - user\) \/ user/);
    assert.match(r.stdout, /MQSim/);
  });

  for (const args of [
    ['run', '--op', 'abc'],
    ['run', '--op', '-0.1'],
    ['run', '--gc', 'lru'],
    ['run', '--workload', 'zipf'],
    ['run', '--writes', '0'],
    ['run', '--writes', '3y'],
    ['run', '--seed', '1.5'],
    ['run', '--channels', '0'],
    ['run', '--wear-leveling', 'sometimes'],
    ['run', '--preset', 'nope'],
    ['run', '--bogus'],
    ['run', '--page-size', '100'],
    ['frobnicate'],
    ['replay'],
  ]) {
    test(`bad usage exits 2 with one line: ${args.join(' ') || '(nothing)'}`, () => {
      const r = ssdsim(...args);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^ssdsim: /);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    });
  }

  test('replay: a malformed trace line names file and line, exit 1; a missing file exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssdsim-cli-'));
    try {
      const path = join(dir, 'bad.trace');
      writeFileSync(path, '100 0 0 8 0\n200 0 8 8 1\n300 0 16 8 7\n');
      const r = ssdsim('replay', path, '--preset', 'seed-mini');
      assert.equal(r.status, 1);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assert.ok(r.stderr.includes(`${path}:3:`), r.stderr);
      const missing = ssdsim('replay', join(dir, 'nope.trace'));
      assert.equal(missing.status, 1);
      assert.match(missing.stderr, /^ssdsim: .*nope\.trace/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('replay --json on a sample trace', () => {
    const trace = join(repoRoot, 'packages/ssd/test/fixtures/traces/mqsim-tpcc-small.trace');
    const r = ssdsim('replay', trace, '--preset', 'ssd-small', '--blocks', '32', '--json');
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.config.command, 'replay');
    assert.equal(report.config.requests, 6999);
    assert.ok(report.hostPageWrites > 6999);
    assert.ok(report.waf >= 1);
  });
});

describe('ssdsim: the shared CLI style (cli-kit)', () => {
  test('no arguments: the help on stderr, exit 2; --version; --help ends with examples', () => {
    const none = ssdsim();
    assert.equal(none.status, 2);
    assert.equal(none.stdout, '');
    assert.match(none.stderr, /Usage: ssdsim/);
    const v = ssdsim('--version');
    assert.equal(v.status, 0);
    assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
    assert.match(ssdsim('--help').stdout, /Examples:\n {2}ssdsim run /);
  });

  test('--out writes the report atomically; a failed write (injected ENOSPC) keeps the previous report', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssdsim-out-'));
    try {
      const out = join(dir, 'reports/report.json');
      const ok = ssdsim('run', '--preset', 'seed-mini', '--writes', '2x', '--json', '--out', out);
      assert.equal(ok.status, 0, ok.stderr);
      assert.equal(ok.stdout, '');
      const first = readFileSync(out, 'utf8');
      assert.equal(JSON.parse(first).hostPageWrites, 360);
      const r = spawnSync(process.execPath, [bin, 'run', '--preset', 'seed-mini', '--writes', '3x', '--json', '--out', out], {
        cwd: repoRoot, encoding: 'utf8', env: { ...process.env, FLASHDIFF_WRITE_FAULT: 'ENOSPC' },
      });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^ssdsim: .*report\.json: cannot write \(ENOSPC\); the previous file, if any, is unchanged\n$/);
      assert.equal(readFileSync(out, 'utf8'), first);
      assert.deepEqual(readdirSync(join(dir, 'reports')), ['report.json']);
      const proc = ssdsim('run', '--preset', 'seed-mini', '--writes', '1x', '--out', '/proc/ssdsim-nope/r.txt');
      assert.equal(proc.status, 1);
      assert.match(proc.stderr, /^ssdsim: \/proc\/ssdsim-nope: cannot create directory/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('Ctrl-C during a run leaves the previous --out report untouched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssdsim-sigint-'));
    try {
      const out = join(dir, 'report.txt');
      writeFileSync(out, 'previous\n');
      const child = spawn(process.execPath, [bin, 'run', '--preset', 'ssd-small', '--writes', '500x', '--out', out], { cwd: repoRoot, stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 1500));
      child.kill('SIGINT');
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('exit', (c, s) => r([c, s])));
      // Once the CLI has loaded, its handler answers (exit 130, test/cli-interrupt.test.ts); a
      // signal that comes while Node is still loading it ends the process by the signal itself.
      assert.ok(code === 130 || signal === 'SIGINT', `exit ${code}, signal ${signal}`);
      assert.equal(readFileSync(out, 'utf8'), 'previous\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('completion bash names the commands and the --gc choices', () => {
    const r = ssdsim('completion', 'bash');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /compgen -W 'run replay sweep merge plot completion --help --version'/);
    assert.match(r.stdout, /--gc\) COMPREPLY=\( \$\(compgen -W 'greedy cost-benefit fifo random'/);
  });
});
