// The shared command-line style, observed on a tiny demo tool (fixtures/demo-cli.ts) run as a child process.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const demo = fileURLToPath(new URL('./fixtures/demo-cli.ts', import.meta.url));

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['--import', 'tsx', demo, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
}

describe('one command-line style', () => {
  test('no arguments: the help on stderr, exit 2', () => {
    const r = run([]);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /Usage: demo/);
    assert.match(r.stderr, /completion/);
  });

  test('--version and --help with examples, exit 0', () => {
    const v = run(['--version']);
    assert.equal(v.status, 0);
    assert.equal(v.stdout.trim(), '9.8.7');
    const h = run(['--help']);
    assert.equal(h.status, 0);
    assert.match(h.stdout, /Examples:\n {2}demo write out\.txt/);
  });

  test('usage errors: one line "<tool>: <message>", exit 2', () => {
    for (const args of [['write', 'x', '--lines', 'abc'], ['write'], ['nope'], ['write', 'x', '--mode', 'medium'], ['check', 'bad'], ['check', 'usage']]) {
      const r = run(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^demo: \S/, r.stderr);
      assert.doesNotMatch(lines[0]!, /^demo: (error: |demo: )/);
    }
    assert.match(run(['check', 'bad']).stderr, /^demo: --class bad: expected 0\.\.9\n$/);
    assert.match(run(['check', 'usage']).stderr, /^demo: --x and --y are exclusive\n$/);
  });

  test('runtime errors: exit 1, one line', () => {
    const r = run(['check', 'fail']);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'demo: ENOENT: no such file, open x\n');
  });

  test('a reader that closes the pipe ends the tool quietly, exit 0', () => {
    const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" --import tsx "${demo}" spew | head -n 2`], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.stdout, 'line 0\nline 1\n');
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
  });

  test('bash completion generated from the definitions completes commands, options and choices', () => {
    const script = run(['completion', 'bash']).stdout;
    const complete = (words: string[]) => {
      const r = spawnSync('bash', ['-c', `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _demo_complete; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim().split('\n').filter((l) => l !== '');
    };
    assert.deepEqual(complete(['demo', 'wr']), ['write']);
    assert.deepEqual(complete(['demo', 'write', '--mo']), ['--mode']);
    assert.deepEqual(complete(['demo', 'write', '--mode', '']).sort(), ['fast', 'slow']);
    const zsh = run(['completion', 'zsh']);
    assert.equal(zsh.status, 0);
    assert.match(zsh.stdout, /^#compdef demo/);
    assert.match(zsh.stdout, /--mode\[which\]:value:\(fast slow\)/);
    if (spawnSync('sh', ['-c', 'command -v zsh']).status === 0) assert.equal(spawnSync('zsh', ['-n', '-c', zsh.stdout]).status, 0);
  });
});

describe('Ctrl-C during an atomic write', () => {
  for (const interruptible of [false, true]) {
    test(`leaves the previous file untouched (${interruptible ? 'with' : 'without'} an interrupt handler)`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cli-kit-sigint-'));
      try {
        const target = join(dir, 'out.txt');
        writeFileSync(target, 'previous\n');
        const args = interruptible ? ['checkpoints', target] : ['write', target, '--lines', '100000'];
        const child = spawn(process.execPath, ['--import', 'tsx', demo, ...args], {
          env: { ...process.env, FLASHDIFF_WRITE_FAULT: 'SLOW', DEMO_INTERRUPTIBLE: interruptible ? '1' : '0' },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        // Wait until the temporary file exists: the write is under way.
        const deadline = Date.now() + 30_000;
        while (!readdirSync(dir).some((f) => f.endsWith('.tmp'))) {
          assert.ok(Date.now() < deadline, 'the write never started');
          await new Promise((r) => setTimeout(r, 20));
        }
        child.kill('SIGINT');
        const [code, signal] = await new Promise<[number | null, string | null]>((r) => child.on('exit', (c, s) => r([c, s])));
        if (interruptible) {
          // The handler runs at the next await: the file is one whole round (or the previous file), the temporary gone.
          const text = readFileSync(target, 'utf8');
          const round = /^round (\d+) /.exec(text)?.[1];
          assert.equal(text, round === undefined ? 'previous\n' : Array.from({ length: 20000 }, (_, i) => `round ${round} line ${i}\n`).join(''));
          assert.equal(code, 130, stderr);
          assert.match(stderr, /demo: interrupted/);
          assert.deepEqual(readdirSync(dir), ['out.txt']);
        } else {
          assert.equal(signal, 'SIGINT');
          assert.equal(readFileSync(target, 'utf8'), 'previous\n');
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

test('demo fixture exists', () => assert.ok(existsSync(demo)));
