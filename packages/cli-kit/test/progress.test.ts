// cli-kit's progressBar on a stream that says it is a terminal (a Writable with isTTY, as
// cli-progress sees a pty) and on one that does not: nothing drawn before `delayMs`, the bar
// once it has passed, MiB with `unit: 'bytes'`, nothing at all when disabled or not a TTY.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { progressBar } from '../src/progress.ts';

/** A stream that records what is written; `tty` sets isTTY (and the width cli-progress reads). */
function recorder(tty: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const w = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  Object.assign(w, { isTTY: tty, columns: 120, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  return { stream: w as unknown as NodeJS.WriteStream, text: () => text };
}

// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/\x1B\[[0-9;?]*[A-Za-z]|\x1B[78]/g, '\n');

describe('progressBar', () => {
  test('delayMs: nothing before it has passed, then the bar from where the work is', () => {
    let clock = 1000;
    const out = recorder(true);
    const bar = progressBar('scan', { stream: out.stream, delayMs: 500, now: () => clock });
    bar.update(1, 10);
    clock += 499;
    bar.update(4, 10);
    assert.equal(out.text(), '', 'quiet before 500 ms');
    clock += 1;
    bar.update(5, 10);
    bar.stop();
    const lines = plain(out.text()).split(/[\r\n]+/).filter((l) => l.trim() !== '');
    assert.ok(lines.length >= 1, out.text());
    assert.match(lines[0]!, /^scan \[[█░]{40}\] 50% 5\/10 ETA /);
    assert.ok(out.text().endsWith('\n'), 'stop() ends the line');
  });

  test('a run that ends before delayMs draws nothing, not even a cursor code', () => {
    const out = recorder(true);
    const bar = progressBar('scan', { stream: out.stream, delayMs: 60_000 });
    for (let i = 0; i <= 10; i++) bar.update(i, 10);
    bar.stop();
    assert.equal(out.text(), '');
  });

  test("unit 'bytes': value and total in MiB", () => {
    const out = recorder(true);
    const bar = progressBar('import', { stream: out.stream, unit: 'bytes' });
    bar.update(5 * 1024 * 1024, 20 * 1024 * 1024);
    bar.stop();
    assert.match(plain(out.text()), /import \[[█░]{40}\] 25% 5\.0\/20\.0 MiB ETA /);
  });

  test('not a terminal, or enabled: false: nothing written', () => {
    for (const [tty, enabled] of [[false, true], [true, false]] as const) {
      const out = recorder(tty);
      const bar = progressBar('x', { stream: out.stream, enabled });
      bar.update(1, 2);
      bar.update(2, 2);
      bar.stop();
      assert.equal(out.text(), '', `tty ${tty}, enabled ${enabled}`);
    }
  });
});
