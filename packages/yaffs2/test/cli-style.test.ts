// The yaffs2 CLI in the shared style (@flashdiff/cli-kit): help, version, a closed pipe, host-file writes whole or not at all, codes that match their text.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const bin = new URL('../bin/yaffs2.js', import.meta.url).pathname;
let work = '';
let image = '';

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: work, env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-cli-style-'));
  const tree = path.join(work, 'tree');
  // Enough names that `ls -R` writes well past a pipe's 64 KiB buffer.
  for (let d = 0; d < 20; d++) {
    fs.mkdirSync(path.join(tree, `directory-${d}`), { recursive: true });
    for (let f = 0; f < 150; f++) fs.writeFileSync(path.join(tree, `directory-${d}`, `a-file-with-a-long-name-${f}.txt`), '');
  }
  fs.writeFileSync(path.join(tree, 'hello.txt'), 'hello\n'.repeat(1000));
  image = path.join(work, 'tree.img');
  const r = run(['import', tree, image]);
  assert.equal(r.status, 0, r.stderr);
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

describe('yaffs2 CLI style', () => {
  test('no arguments: help on stderr, exit 2; --version; --help with examples', () => {
    const none = run([]);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /Usage: yaffs2/);
    assert.equal(none.stdout, '');
    assert.match(run(['--version']).stdout, /^\d+\.\d+\.\d+\n$/);
    assert.match(run(['--help']).stdout, /Examples:\n {2}yaffs2 import/);
  });

  test('a command named first is built alone (runCli): its --help and its usage errors read as with every command built', () => {
    const names = ['mkfs', 'import', 'extract', 'ls', 'cat', 'get', 'put', 'rm', 'mkdir', 'grow', 'info', 'fsck'];
    // `yaffs2 help <command>` builds every command; `yaffs2 <command> --help` that one alone.
    const listed = run(['--help']).stdout;
    for (const name of names) {
      assert.match(listed, new RegExp(`^  ${name} `, 'm'), `${name} is in the full help`);
      const alone = run([name, '--help']);
      const full = run(['help', name]);
      assert.equal(alone.status, 0, alone.stderr);
      assert.equal(alone.stdout, full.stdout, name);
      const bad = run([name, '--no-such-option']);
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /^yaffs2: (unknown option '--no-such-option'|required option '--blocks <n>' not specified)\n$/, name);
    }
    // A mistyped command still gets every command's suggestion.
    const typo = run(['extrct', 'a.img', 'out']);
    assert.equal(typo.status, 2);
    assert.match(typo.stderr, /extract/);
  });

  test("each command's --help lists its options as before the format flags were defined once (cli-options.ts Yaffs2Command)", () => {
    // The option column of each command's help, in order, as the commands listed them when each
    // repeated the format flags itself.
    const detect = ['--layout <layout>', '--page-size <bytes>', '--spare-size <bytes>', '--pages-per-block <n>', '--endian <order>', '--tag-ecc <on|off>', '--inband-tags <on|off>', '--data-ecc <order>'];
    const create = ['--layout <layout>', '--page-size <bytes>', '--spare-size <bytes>', '--pages-per-block <n>', '--endian <order>', '--tag-ecc <on|off>', '--inband-tags', '--data-ecc <order>', '--tag-ecc-parity <order>'];
    const expected: Record<string, string[]> = {
      mkfs: ['--blocks <n>', ...create],
      import: ['--blocks <n>', '--free <size>', ...create, '--no-progress'],
      extract: [...detect, '--ignore-errors', '--no-progress'],
      ls: ['-l', '-R', ...detect, '--ignore-errors', '--no-progress'],
      cat: [...detect, '--ignore-errors'],
      get: [...detect, '--ignore-errors'],
      put: ['--blocks <n>', ...detect],
      rm: [...detect],
      mkdir: ['--blocks <n>', ...detect],
      grow: ['--blocks <n>', ...detect],
      info: ['--json', ...detect, '--ignore-errors', '--no-progress'],
      fsck: ['--repair', ...detect, '--no-progress'],
    };
    for (const [name, options] of Object.entries(expected)) {
      const help = run([name, '--help']);
      assert.equal(help.status, 0, help.stderr);
      const listed = help.stdout
        .split('Options:\n')[1]!
        .split('\n')
        .filter((line) => /^ {2}-/.test(line))
        .map((line) => line.trim().split(/ {2,}/)[0]);
      assert.deepEqual(listed, [...options, '-h, --help'], name);
      // The descriptions: a new image's flags give its defaults, an existing image's say detect.
      if (name === 'mkfs' || name === 'import') {
        assert.match(help.stdout, /--endian <order> +byte order of tags and headers: little or big\s+\(default: little\)/, name);
        assert.match(help.stdout, /--page-size <bytes> +page \(chunk\) data bytes: 2048 \(default\)/, name);
      } else {
        assert.match(help.stdout, /--page-size <bytes> +page \(chunk\) data bytes \(default: detect\)/, name);
        assert.match(help.stdout, /--data-ecc <order> +data ECC byte order of the mtd layout: smartmedia,\s+linux or none \(default: detect\)/, name);
      }
      // And each flag still goes through its parser.
      const bad = run([name, '--page-size', '1000', 'a.img', 'b', 'c'].slice(0, name === 'put' || name === 'get' ? 6 : 5));
      assert.equal(bad.status, 2, name);
      assert.match(bad.stderr, /^yaffs2: option '--page-size <bytes>' argument '1000' is invalid\. expected 512 \(YAFFS1\), 2048, 4096, 8192 or 16384, got "1000"\n$/, name);
    }
  });

  test('ls -R into a pipe closed early (| head) ends quietly with exit 0', () => {
    const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${bin}" ls -l -R "${image}" | head -n 3`], { encoding: 'utf8' });
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
    assert.equal(r.stdout.split('\n').length, 4);
    const cat = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${bin}" cat "${image}" /hello.txt | head -c 10`], { encoding: 'utf8' });
    assert.equal(cat.stderr, '');
    assert.equal(cat.status, 0);
  });

  test('get writes the host file whole or not at all; refuses to overwrite', () => {
    const target = path.join(work, 'got.txt');
    const failed = run(['get', image, '/hello.txt', target], { FLASHDIFF_WRITE_FAULT: 'ENOSPC' });
    assert.equal(failed.status, 1);
    assert.match(failed.stderr, /^yaffs2: .*got\.txt: cannot write \(ENOSPC\)/);
    assert.equal(fs.existsSync(target), false);
    assert.deepEqual(fs.readdirSync(work).filter((f) => f.endsWith('.tmp')), []);
    assert.equal(run(['get', image, '/hello.txt', target]).status, 0);
    assert.equal(fs.readFileSync(target, 'utf8'), 'hello\n'.repeat(1000));
    const again = run(['get', image, '/hello.txt', target]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /^yaffs2: EEXIST: .*got\.txt: exists on the host/);
  });

  test('error codes match their text: putting a host directory says EISDIR', () => {
    const r = run(['put', image, work, '/x']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^yaffs2: EISDIR: .*: cannot read the host file\n$/);
    const missing = run(['put', image, path.join(work, 'nope'), '/x']);
    assert.match(missing.stderr, /^yaffs2: ENOENT: .*nope: cannot read the host file\n$/);
  });

  test('completion zsh lists the commands', () => {
    const r = run(['completion', 'zsh']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /'mkfs:create an empty YAFFS2 image of N blocks'/);
  });
});
