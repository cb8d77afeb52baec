// How `ssdsim` starts: run as a command, its launcher (bin/ssdsim.js's shell header) drops
// NODE_EXTRA_CA_CERTS before starting Node (no TLS here; Node parses the named bundle at every
// start), while `node bin/ssdsim.js` leaves the variable to Node; and which runs stay on the main
// thread (src/scenario/thread.ts runsInThread: a short trace replay) with the same report as on a
// worker (SSDSIM_WORKER=always).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertLauncherDropsExtraCaCerts } from '@flashdiff/cli-kit/testing';
import { applyOverrides, loadScenario } from '../src/index.ts';
import { IN_THREAD_TRACE_BYTES, runsInThread } from '../src/scenario/thread.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(repoRoot, 'packages/ssd/bin/ssdsim.js');
const tpcc = join(repoRoot, 'packages/ssd/test/fixtures/traces/mqsim-tpcc-small.trace');

describe('ssdsim launcher', () => {
  test('run as a command it drops NODE_EXTRA_CA_CERTS; node bin/ssdsim.js leaves it to Node', { skip: process.platform === 'win32' && 'the shell header is for POSIX shells' }, () => {
    assertLauncherDropsExtraCaCerts(bin, 'ssdsim');
  });

  test('a short trace replay runs on the main thread, with the same report as on a worker', () => {
    const args = ['replay', tpcc, '--scenario', 'mqsim-default', '--blocks', '256', '--precondition-state', 'sequential', '--occupancy', '0.5', '--snapshot-every', '0', '--json'];
    const here = spawnSync(bin, args, { encoding: 'utf8', env: { ...process.env, SSDSIM_WORKER: '' } });
    const worker = spawnSync(bin, args, { encoding: 'utf8', env: { ...process.env, SSDSIM_WORKER: 'always' } });
    assert.equal(here.status, 0, here.stderr);
    assert.equal(worker.status, 0, worker.stderr);
    type Report = { hostPageWrites: number; precondition: { state: string; wallSeconds?: number } | null };
    const report = JSON.parse(here.stdout) as Report;
    const other = JSON.parse(worker.stdout) as Report;
    assert.ok(report.hostPageWrites > 0);
    assert.equal(report.precondition?.state, 'sequential');
    // The fill's wall time is measured: every other figure is the same.
    delete report.precondition!.wallSeconds;
    delete other.precondition!.wallSeconds;
    assert.deepEqual(report, other);
  });
});

describe('runsInThread', () => {
  const base = loadScenario('mqsim-default');
  const trace = (path: string, extra: Record<string, unknown> = {}) => applyOverrides(base, [{ workload: { kind: 'trace', path } }, extra]);
  test('a trace replay of a small file on a device up to 1 TiB, nothing or a sequential fill first', () => {
    assert.equal(runsInThread(trace(tpcc), {}), true);
    assert.equal(runsInThread(trace(tpcc, { precondition: { state: 'sequential', occupancy: 0.7 } }), {}), true);
    // MQSim's default ssdconfig (512 GiB) and twice it.
    assert.equal(runsInThread(trace(tpcc, { device: { geometry: { blocksPerDie: 8192 } } }), {}), true);
    assert.equal(runsInThread(trace(tpcc, { device: { geometry: { blocksPerDie: 16384 } } }), {}), true);
  });
  test('on a worker: a large file, a larger device, other preconditioning, a synthetic run, SSDSIM_WORKER=always', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssd-in-thread-'));
    try {
      const big = join(dir, 'big.trace');
      const line = '0 0 0 8 0\n';
      writeFileSync(big, line.repeat(Math.floor(IN_THREAD_TRACE_BYTES / line.length) + 1));
      assert.equal(runsInThread(trace(big), {}), false);
      assert.equal(runsInThread(trace(join(dir, 'missing.trace')), {}), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(runsInThread(trace(tpcc, { device: { geometry: { blocksPerDie: 32768 } } }), {}), false);
    assert.equal(runsInThread(trace(tpcc, { precondition: { state: 'random', occupancy: 0.7 } }), {}), false);
    assert.equal(runsInThread(loadScenario('mqsim-default'), {}), false);
    assert.equal(runsInThread(trace(tpcc), { SSDSIM_WORKER: 'always' }), false);
  });
});
