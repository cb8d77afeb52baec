// `ssdsim replay` and `ssdsim run` interrupted by Ctrl-C (SIGINT) or SIGTERM while they simulate
// (the simulation runs on its own thread, src/scenario/thread.ts, so the main thread answers):
// exit status 130 / 143, one stderr line saying so, nothing on stdout and no output file or
// temporary left behind. Spawned processes: a trace long enough that the replay (in the kernel
// replay on the mqsim-default device) is still running when the signal comes; the signal is sent
// once the run has started (its "sorted" warning, posted by the simulation thread after the
// trace is read, is on stderr), so it lands in the device's construction or the replay. The time to exit is printed as a diagnostic, not asserted tightly.
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/ssdsim.js', import.meta.url));
const wsrch = fileURLToPath(new URL('./fixtures/traces/mqsim-wsrch-small.trace', import.meta.url));

/** MQSim's wsrch-small `copies` times over, one after the other, with the first two lines swapped (so --sort warns). */
function longTrace(path: string, copies: number): void {
  const lines = readFileSync(wsrch, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const span = Number(lines[lines.length - 1]!.split(' ')[0]) + 1;
  const out: string[] = [];
  for (let c = 0; c < copies; c++) {
    for (const l of lines) {
      const f = l.split(' ');
      out.push([String(Number(f[0]) + c * span), ...f.slice(1)].join(' '));
    }
  }
  [out[0], out[1]] = [out[1]!, out[0]!];
  writeFileSync(path, out.join('\n') + '\n');
}

interface Interrupted {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  exitMs: number;
}

/** Spawns ssdsim, waits for its run to start (the warning), sends `signal` 50 ms later. */
function interrupt(args: string[], cwd: string, signal: NodeJS.Signals): Promise<Interrupted> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let sentAt = 0;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (sentAt === 0 && stderr.includes('requests sorted')) {
        sentAt = -1;
        setTimeout(() => {
          sentAt = performance.now();
          child.kill(signal);
        }, 50);
      }
    });
    child.on('error', reject);
    child.on('close', (code, sig) => resolve({ code, signal: sig, stdout, stderr, exitMs: sentAt > 0 ? performance.now() - sentAt : NaN }));
  });
}

function check(t: TestContext, r: Interrupted, status: number, dir: string, kept: string[]): void {
  t.diagnostic(`exited ${r.exitMs.toFixed(0)} ms after the signal`);
  assert.ok(r.exitMs > 0, `the run ended before the signal was sent (stderr: ${r.stderr})`);
  assert.equal(r.signal, null);
  assert.equal(r.code, status, r.stderr);
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines[lines.length - 1], 'ssdsim: interrupted');
  assert.equal(lines.filter((l) => l.includes('interrupted')).length, 1);
  assert.deepEqual(readdirSync(dir).sort(), kept.sort(), 'no output file or temporary left');
  assert.ok(r.exitMs < 10_000, `answered in ${r.exitMs.toFixed(0)} ms`);
}

describe('ssdsim run / replay: Ctrl-C and SIGTERM during the simulation', { timeout: 600_000 }, () => {
  test('replay on the kernel replay device, SIGINT: exit 130, one line, no --out file', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ssd-interrupt-'));
    try {
      longTrace(join(dir, 'long.trace'), 20);
      const r = await interrupt(['replay', 'long.trace', '--scenario', 'mqsim-default', '--sort', '--snapshot-every', '0', '--json', '--out', 'report.json'], dir, 'SIGINT');
      check(t, r, 130, dir, ['long.trace']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('run of a trace scenario, SIGTERM: exit 143, one line, no outputs.json file', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ssd-interrupt-'));
    try {
      longTrace(join(dir, 'long.trace'), 12);
      writeFileSync(
        join(dir, 's.yaml'),
        'device:\n  preset: ssd-small\nprecondition:\n  state: none\nworkload:\n  kind: trace\n  path: long.trace\n  sort: true\noutputs:\n  json: result.json\n  snapshotEvery: 0\n',
      );
      const r = await interrupt(['run', 's.yaml'], dir, 'SIGTERM');
      check(t, r, 143, dir, ['long.trace', 's.yaml']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
