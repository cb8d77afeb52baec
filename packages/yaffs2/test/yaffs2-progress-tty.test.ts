// yaffs2 and the shared progress rule (progress bars on stderr only when it is a terminal): the
// yaffs2 CLI draws no progress bar — an import, extract, fsck or listing of a few MiB takes well
// under a second — so its stderr holds nothing but import's one summary line, the same on a real
// pseudo-terminal (util-linux `script`, as packages/ssd/test/sweep-progress.test.ts) and on a
// pipe, and its stdout is the same either way. A bar or a note added later that reaches a pipe,
// or escape codes on a terminal, fail here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const bin = new URL('../bin/yaffs2.js', import.meta.url).pathname;
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
let work = '';

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-progress-tty-'));
  const tree = path.join(work, 'tree');
  // A few MiB in 40 files: enough pages that a per-chunk progress bar would have drawn.
  for (let d = 0; d < 4; d++) {
    fs.mkdirSync(path.join(tree, `directory-${d}`), { recursive: true });
    for (let f = 0; f < 10; f++) fs.writeFileSync(path.join(tree, `directory-${d}`, `file-${f}.bin`), Buffer.alloc(100_000 + 997 * f, d * 10 + f));
  }
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

/** What each command may write on stderr: import its summary line, the others nothing. */
const IMPORT_SUMMARY = /^imported \d+ objects, \d+ bytes, into \d+ blocks\r?\n$/;
function assertStderr(command: string, text: string, where: string): void {
  if (command === 'import') assert.match(text, IMPORT_SUMMARY, `import: only its summary line ${where}`);
  else assert.equal(text, '', `${command}: nothing ${where}`);
}

/** The same commands once with stderr on a pipe and once with it on a terminal (stdout to a file). */
function commands(tag: string): string[][] {
  const image = path.join(work, `${tag}.img`);
  return [
    ['import', path.join(work, 'tree'), image],
    ['ls', '-l', '-R', image],
    ['extract', image, path.join(work, `${tag}-out`)],
    ['fsck', image],
    ['info', image],
  ];
}

describe('yaffs2: no progress bar, on a terminal or not', () => {
  test('on a pipe: no bar, stderr empty but for import\'s summary line', () => {
    for (const args of commands('piped')) {
      const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assertStderr(args[0]!, r.stderr, 'on a stderr that is not a terminal');
    }
  });

  test('on a pseudo-terminal: no bar, no escape codes, the same stderr and stdout as piped', { skip: hasScript ? false : 'util-linux `script` is not installed (apt-get install bsdutils)' }, () => {
    const piped = commands('piped-again').map((args) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 }).stdout);
    commands('tty').forEach((args, i) => {
      const stdoutFile = path.join(work, 'stdout.txt');
      const command = [process.execPath, bin, ...args].map(quote).join(' ') + ` > ${quote(stdoutFile)}`;
      const r = spawnSync('script', ['-qfec', command, '/dev/null'], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stdout}`);
      assertStderr(args[0]!, r.stdout, 'on the terminal (stderr)');
      // The image's name differs between the runs; the rest of the output must not.
      const same = (text: string, tag: string) => text.replaceAll(path.join(work, tag), '<work>');
      assert.equal(same(fs.readFileSync(stdoutFile, 'utf8'), 'tty'), same(piped[i]!, 'piped-again'), `${args[0]}: stdout as on a pipe`);
    });
  });
});
