// `ssdsim plot` when writing fails or the user presses Ctrl-C: the charts are written as one
// atomic step, so the output folder holds the previous charts or the whole new set — never a mix,
// never a temporary file — and the command says what happened in one line (no stack trace),
// with a non-zero exit. Faults come from cli-kit's FLASHDIFF_WRITE_FAULT (ENOSPC: half written,
// then a full disk; SLOW: 20 pieces 100 ms apart, time to send a signal mid-write).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(repoRoot, 'packages/ssd/bin/ssdsim.js');
const dir = mkdtempSync(join(tmpdir(), 'ssdsim-plot-faults-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const CHARTS = ['erase-histogram', 'free-blocks', 'interval-waf', 'latency-cdf'].flatMap((c) => [`${c}.png`, `${c}.svg`]);

function ssdsim(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every entry of a folder (hidden ones too), name → base64 bytes ('directory' for a folder). */
function snapshot(folder: string): Record<string, string> {
  return Object.fromEntries(readdirSync(folder).sort().map((f) => [f, statSync(join(folder, f)).isDirectory() ? 'directory' : readFileSync(join(folder, f)).toString('base64')]));
}

// Two different reports, and the charts of each drawn by a plot that nothing disturbed.
const reportA = join(dir, 'a.json');
const reportB = join(dir, 'b.json');
let chartsA: Record<string, string> = {};
let chartsB: Record<string, string> = {};
before(() => {
  for (const [out, seed, writes] of [[reportA, '1', '2x'], [reportB, '2', '3x']] as const) {
    const r = ssdsim(['run', '--preset', 'seed-mini', '--writes', writes, '--seed', seed, '--json', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
  }
  for (const [report, name] of [[reportA, 'clean-a'], [reportB, 'clean-b']] as const) {
    const r = ssdsim(['plot', report, '--dir', join(dir, name)]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
  }
  chartsA = snapshot(join(dir, 'clean-a'));
  chartsB = snapshot(join(dir, 'clean-b'));
  assert.deepEqual(Object.keys(chartsA), CHARTS);
  for (const f of CHARTS) assert.notEqual(chartsA[f], chartsB[f], `${f} differs between the two reports (so a mix would show)`);
});

/** A folder holding report A's charts, as a previous plot left them. */
function previousCharts(name: string): string {
  const folder = join(dir, name);
  const r = ssdsim(['plot', reportA, '--dir', folder]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(snapshot(folder), chartsA);
  return folder;
}

describe('ssdsim plot: failures and Ctrl-C', () => {
  test('a full disk (injected ENOSPC): one line, exit 1, the previous charts untouched, no temporary file', () => {
    const folder = previousCharts('enospc');
    const r = ssdsim(['plot', reportB, '--dir', folder], { FLASHDIFF_WRITE_FAULT: 'ENOSPC' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^ssdsim: \S*interval-waf\.svg: cannot write \(ENOSPC\); the previous file, if any, is unchanged\n$/);
    assert.equal(r.stdout, '');
    assert.deepEqual(snapshot(folder), chartsA);
  });

  test('a later chart that cannot be written (a directory in its place) leaves every earlier chart as it was', () => {
    const folder = previousCharts('in-the-way');
    rmSync(join(folder, 'latency-cdf.png'));
    mkdirSync(join(folder, 'latency-cdf.png'));
    const r = ssdsim(['plot', reportB, '--dir', folder]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^ssdsim: \S*latency-cdf\.png: is a directory\n$/);
    assert.equal(r.stdout, '');
    const after = snapshot(folder);
    for (const f of CHARTS.filter((c) => c !== 'latency-cdf.png')) assert.equal(after[f], chartsA[f], `${f} is still the previous chart`);
    assert.deepEqual(Object.keys(after), CHARTS, 'no temporary file');
  });

  test('Ctrl-C (SIGINT) while the charts are written: the previous set or the whole new one, no temporary file, one line, exit 130', async () => {
    const folder = previousCharts('sigint');
    const child = spawn(process.execPath, [bin, 'plot', reportB, '--dir', folder], {
      cwd: repoRoot,
      env: { ...process.env, FLASHDIFF_WRITE_FAULT: 'SLOW' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
    child.stdout.resume();
    const exited = new Promise<[number | null, string | null]>((r) => child.on('close', (c, s) => r([c, s])));
    const deadline = Date.now() + 120_000;
    while (!readdirSync(folder).some((f) => f.endsWith('.tmp'))) {
      assert.ok(Date.now() < deadline && child.exitCode === null, `the write never started: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGINT');
    const [code, signal] = await exited;
    assert.equal(signal, null, "ended by ssdsim's handler, not by the signal's default action (which leaves the temporary file)");
    assert.equal(code, 130, stderr);
    assert.equal(stderr, '\nssdsim: interrupted\n', 'one line, no stack trace');
    const now = snapshot(folder);
    assert.deepEqual(Object.keys(now), CHARTS, 'no temporary file');
    // The temporaries are written and renamed synchronously, so the handler runs after the renames.
    assert.ok(JSON.stringify(now) === JSON.stringify(chartsA) || JSON.stringify(now) === JSON.stringify(chartsB), 'all previous or all new charts');
  });
});
