// The workflow commands as a user runs them: a scenario with plots, traces in every format with
// their robustness flags, sweep on 2 workers, shards merged, plot.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/ssdsim.js', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/traces/${name}`, import.meta.url));
const ssdsim = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
const SMALL = ['--preset', 'ssd-small', '--channels', '2', '--dies', '1', '--blocks', '16', '--pages-per-block', '16'];

function oneLineError(r: ReturnType<typeof ssdsim>, status: number, ...fragments: string[]): void {
  assert.equal(r.status, status, r.stderr);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  for (const f of fragments) assert.ok(lines[0]!.includes(f), `'${lines[0]}' lacks '${f}'`);
}

describe('ssdsim workflows', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ssdsim-workflow-'));
  test.after(() => rmSync(dir, { recursive: true, force: true }));

  test('replay: each trace format; a blkparse discard is counted as trimmed pages', () => {
    for (const [file, format] of [['msr-sample.csv', 'msr'], ['blkparse-sample.txt', 'blkparse'], ['flashdiff-sample.trace', 'flashdiff'], ['ssdsim-example.ascii', 'disksim']]) {
      const r = ssdsim('replay', fixture(file!), ...SMALL, '--json');
      assert.equal(r.status, 0, r.stderr);
      const report = JSON.parse(r.stdout);
      assert.equal(report.config.traceFormat, format, file);
      if (format === 'blkparse') assert.equal(report.counters.hostTrimmedPages, 2);
    }
    const text = ssdsim('replay', fixture('blkparse-sample.txt'), ...SMALL);
    assert.match(text.stdout, /TRIM commands 1, pages trimmed 2/);
  });

  test('--trim-ratio: synthetic TRIMs reach the FTL and the report counts the trimmed pages', () => {
    const r = ssdsim('run', ...SMALL, '--writes', '1x', '--trim-ratio', '0.2', '--json');
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.ok(report.counters.hostTrimCommands > 0);
    assert.ok(report.counters.hostTrimmedPages > 0 && report.counters.hostTrimmedPages <= report.counters.hostTrimCommands);
    assert.equal(report.config.workload.trimRatio, 0.2);
  });

  test('replay robustness: empty, backwards, huge LBA — one line each; --allow-empty and --sort', () => {
    const empty = join(dir, 'empty.trace');
    writeFileSync(empty, '# nothing\n');
    oneLineError(ssdsim('replay', empty, ...SMALL), 1, 'no requests', '--allow-empty');
    const ok = ssdsim('replay', empty, ...SMALL, '--allow-empty', '--json');
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stderr, /warning: .*no requests/);
    assert.equal(JSON.parse(ok.stdout).hostPageWrites, 0);
    const back = join(dir, 'back.trace');
    writeFileSync(back, '100 0 0 8 0\n50 0 8 8 0\n');
    oneLineError(ssdsim('replay', back, ...SMALL), 1, `${back}:2:`, 'goes backwards', '--sort');
    assert.equal(JSON.parse(ssdsim('replay', back, ...SMALL, '--sort', '--json').stdout).hostPageWrites, 2);
    const huge = join(dir, 'huge.trace');
    writeFileSync(huge, '0 0 0 8 0\n1 0 99999999999999999999 8 0\n');
    oneLineError(ssdsim('replay', huge, ...SMALL), 1, `${huge}:2:`, 'beyond 2^53');
    oneLineError(ssdsim('replay', fixture('ssdsim-example.ascii'), ...SMALL, '--format', 'msr'), 1, ':1:', '7 comma-separated');
  });

  test('replay --scenario: the device from the file, the trace from the command line', () => {
    const scenario = join(dir, 'dev.yaml');
    writeFileSync(scenario, 'device:\n  preset: seed-mini\n  ftl: { gcPolicy: fifo }\nprecondition: { state: none }\n');
    const r = ssdsim('replay', fixture('flashdiff-sample.trace'), '--scenario', scenario, '--op', '0.25', '--print-config', '--json');
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.deepEqual([s.device.preset, s.device.ftl.gcPolicy, s.device.ftl.overProvisioning, s.precondition.state, s.workload.kind], ['seed-mini', 'fifo', 0.25, 'none', 'trace']);
    assert.equal(s.workload.path, fixture('flashdiff-sample.trace'));
  });

  test('run a scenario with outputs: JSON report and plots', () => {
    const scenario = join(dir, 's.yaml');
    writeFileSync(scenario, `device:\n  preset: ssd-small\n  geometry: { channels: 2, diesPerChannel: 1, blocksPerDie: 16, pagesPerBlock: 16 }\nprecondition: { state: random, occupancy: 0.8 }\nworkload: { kind: uniform, writes: 2x }\noutputs: { json: out/report.json, plots: out/plots }\n`);
    // Outputs are relative to the working directory (the temporary folder here).
    const r = spawnSync(process.execPath, [bin, 'run', scenario], { encoding: 'utf8', timeout: 120_000, cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /precondition: random to 80\.\d% occupancy \(marked fill, untimed\): \d+ host writes, WAF 1\.000, 0\.000 s simulated/);
    const report = JSON.parse(readFileSync(join(dir, 'out/report.json'), 'utf8'));
    assert.equal(report.precondition.state, 'random');
    assert.deepEqual(readdirSync(join(dir, 'out/plots')).sort(), ['erase-histogram.png', 'erase-histogram.svg', 'free-blocks.png', 'free-blocks.svg', 'interval-waf.png', 'interval-waf.svg', 'latency-cdf.png', 'latency-cdf.svg']);
  });

  test('sweep on 2 workers, the same sweep in 2 shards merged: the same summary; plot it', () => {
    const args = ['sweep', ...SMALL, '--writes', '2x', '--vary', 'op=0.15,0.3', '--vary', 'gc=greedy,fifo'];
    const whole = ssdsim(...args, '--workers', '2', '--dir', join(dir, 'whole'));
    assert.equal(whole.status, 0, whole.stderr);
    assert.match(whole.stdout, /4 of 4 points/);
    for (const i of [1, 2]) {
      const shard = ssdsim(...args, '--workers', '1', '--shard', `${i}/2`, '--dir', join(dir, `s${i}`), '--json');
      assert.equal(shard.status, 0, shard.stderr);
      assert.deepEqual(JSON.parse(shard.stdout).shard, { index: i, count: 2 });
    }
    assert.equal(readdirSync(join(dir, 's1', 'points')).length, 2);
    const merged = ssdsim('merge', join(dir, 's1'), join(dir, 's2'), '--dir', join(dir, 'merged'));
    assert.equal(merged.status, 0, merged.stderr);
    assert.equal(readFileSync(join(dir, 'merged', 'summary.csv'), 'utf8'), readFileSync(join(dir, 'whole', 'summary.csv'), 'utf8'));
    oneLineError(ssdsim('merge', join(dir, 's1'), '--dir', join(dir, 'm1')), 2, '2 of 4 points missing');
    oneLineError(ssdsim(...args, '--shard', '3/2', '--dir', join(dir, 'x')), 2, '--shard');
    oneLineError(ssdsim(...args, '--vary', 'gc=lru', '--dir', join(dir, 'x')), 2, 'the same key is varied twice');
    const plot = ssdsim('plot', join(dir, 'merged', 'summary.csv'), '--dir', join(dir, 'plots'));
    assert.equal(plot.status, 0, plot.stderr);
    assert.ok(existsSync(join(dir, 'plots', 'waf-vs-op.png')) && existsSync(join(dir, 'plots', 'waf-vs-op.svg')));
    const point = readdirSync(join(dir, 'whole', 'points'))[0]!;
    assert.equal(ssdsim('plot', join(dir, 'whole', 'points', point), '--dir', join(dir, 'pplots')).status, 0);
    assert.ok(existsSync(join(dir, 'pplots', 'latency-cdf.png')));
  });
});
