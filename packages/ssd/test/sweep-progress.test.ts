// The sweep's progress bar and ETA: drawn on a terminal stream only, started at 0 of the points
// when the sweep starts (so the ETA counts the first point's time), with the count and an ETA
// from the finished points' rate; under a real pseudo-terminal (util-linux `script`) the CLI's
// bar, count and ETA reach stderr, and a piped stderr gets nothing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sweepProgress } from '../src/sweep/index.ts';

/** A stream that says it is a terminal and keeps what is written (escape codes and all). */
function fakeTerminal(isTTY = true): { stream: NodeJS.WriteStream; text: () => string; lines: () => string[] } {
  let out = '';
  const stream = {
    isTTY,
    columns: 120,
    write(chunk: string | Uint8Array): boolean {
      out += String(chunk);
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  // What the terminal shows: drop the CSI escapes (cursor moves, line clears, cursor hide/show).
  // eslint-disable-next-line no-control-regex
  const plain = () => out.replace(/\x1B\[[0-9;?]*[A-Za-z]|\x1B[78]/g, '\n');
  return { stream, text: () => out, lines: () => plain().split(/[\n\r]+/).filter((l) => l.trim() !== '') };
}

describe('sweep progress bar (injected clock)', () => {
  test('starts at 0/N; the ETA comes from the points done per second since the start', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    const term = fakeTerminal();
    const bar = sweepProgress(6, { stream: term.stream });
    const slow = fakeTerminal();
    const slowBar = sweepProgress(100, { stream: slow.stream });
    // A drawn bar redraws on a (real) timer until stopped: stop both even when an assertion fails.
    t.after(() => {
      bar.stop();
      slowBar.stop();
    });
    assert.match(term.lines().at(-1)!, /^ssdsim sweep \[░{40}\] 0% 0\/6 ETA --$/);
    // 2 of 6 points after 10 s: 0.2 points/s, 4 left → 20 s.
    t.mock.timers.tick(10_000);
    bar.update(2, 6);
    assert.match(term.lines().at(-1)!, /^ssdsim sweep \[█{13}░{27}\] 33% 2\/6 ETA 20s$/);
    // 5 of 6 after 50 s: 0.1 points/s, 1 left → 10 s.
    t.mock.timers.tick(40_000);
    bar.update(5, 6);
    assert.match(term.lines().at(-1)!, /^ssdsim sweep \[█{33}░{7}\] 83% 5\/6 ETA 10s$/);
    // 1 of 100 after 110 s: 99 × 110 s = 10890 s, shown as hours and minutes (minutes rounded to 5).
    t.mock.timers.tick(60_000);
    slowBar.update(1, 100);
    assert.match(slow.lines().at(-1)!, / 1% 1\/100 ETA 3h0m$/);
    // 50 of 100 after 310 s: 310 s more, shown as minutes and seconds.
    t.mock.timers.tick(200_000);
    slowBar.update(50, 100);
    assert.match(slow.lines().at(-1)!, / 50% 50\/100 ETA 5m10s$/);
    slowBar.stop();
    t.mock.timers.tick(1000);
    bar.update(6, 6);
    bar.stop();
    assert.match(term.lines().at(-1)!, / 100% 6\/6 ETA 0s$/);
    // The cursor is hidden while drawing and shown again at the end.
    assert.ok(term.text().lastIndexOf('\x1B[?25h') > term.text().lastIndexOf('\x1B[?25l'), JSON.stringify(term.text().slice(-30)));
    assert.ok(term.text().includes('\x1B[?25l'));
  });

  test('nothing on a stream that is not a terminal, when disabled, or for an empty shard', () => {
    for (const [term, options] of [
      [fakeTerminal(false), {}],
      [fakeTerminal(true), { enabled: false }],
    ] as const) {
      const bar = sweepProgress(4, { stream: term.stream, ...options });
      bar.update(2, 4);
      bar.update(4, 4);
      bar.stop();
      assert.equal(term.text(), '');
    }
    const empty = fakeTerminal();
    const bar = sweepProgress(0, { stream: empty.stream });
    bar.stop();
    assert.equal(empty.text(), '');
  });
});

const bin = fileURLToPath(new URL('../bin/ssdsim.js', import.meta.url));
const SMALL = ['--channels', '2', '--dies', '1', '--blocks', '16', '--pages-per-block', '16', '--writes', '2x'];
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

describe('ssdsim sweep progress end to end', () => {
  test('under a pseudo-terminal the bar, the count and an ETA go to stderr; a piped stderr stays empty', { skip: hasScript ? false : 'util-linux `script` is not installed (apt-get install bsdutils)' }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssd-progress-'));
    try {
      const args = ['sweep', ...SMALL, '--vary', 'op=0.15,0.2,0.3', '--vary', 'gc=greedy,fifo', '--workers', '2'];
      const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
      // stdout goes to a file inside the terminal session, so what the terminal shows is stderr.
      const command = [process.execPath, bin, ...args, '--dir', join(dir, 'tty')].map(quote).join(' ') + ` > ${quote(join(dir, 'stdout.txt'))}`;
      writeFileSync(join(dir, 'command.sh'), command + '\n');
      const tty = spawnSync('script', ['-qfec', `bash ${quote(join(dir, 'command.sh'))}`, '/dev/null'], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(tty.status, 0, tty.stdout + tty.stderr);
      // eslint-disable-next-line no-control-regex
      const shown = tty.stdout.replace(/\x1B\[[0-9;?]*[A-Za-z]|\x1B[78]/g, '\n').split(/[\r\n]+/).filter((l) => l.trim() !== '');
      const bars = shown.filter((l) => l.startsWith('ssdsim sweep ['));
      assert.ok(bars.length >= 2, `bar lines on the terminal: ${JSON.stringify(shown)}`);
      assert.match(bars[0]!, /^ssdsim sweep \[░+\] 0% 0\/6 ETA --$/, 'drawn at 0/6 when the sweep starts');
      assert.match(bars.at(-1)!, /^ssdsim sweep \[█+\] 100% 6\/6 ETA 0s$/);
      assert.ok(bars.some((l) => /ETA \d+(s|m\d+s)$/.test(l)), `a numeric ETA: ${JSON.stringify(bars)}`);
      assert.ok(!shown.some((l) => l.startsWith('sweep ')), 'the summary line is stdout, not on the terminal');
      assert.match(readFileSync(join(dir, 'stdout.txt'), 'utf8'), /^sweep [0-9a-f]{16}: 6 of 6 points in [\d.]+ s → /);

      const piped = spawnSync(process.execPath, [bin, ...args, '--dir', join(dir, 'piped')], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(piped.status, 0, piped.stderr);
      assert.equal(piped.stderr, '', 'no bar on a stderr that is not a terminal');
      assert.match(piped.stdout, /^sweep [0-9a-f]{16}: 6 of 6 points in [\d.]+ s → /);
      assert.equal(readFileSync(join(dir, 'tty', 'summary.csv'), 'utf8'), readFileSync(join(dir, 'piped', 'summary.csv'), 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
