// scripts/setup.sh (the README's set-up, also run by .ci/run) on a simulated machine: fake id,
// dpkg-query, sudo, apt-get and npm on PATH record what the script would do.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../../scripts/setup.sh', import.meta.url));

function machine(options: { uid: number; sudo: boolean; installed: string[] }): { bin: string; log: string; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), 'setup-sh-'));
  const bin = join(root, 'bin');
  const log = join(root, 'log');
  writeFileSync(log, '');
  spawnSync('mkdir', [bin]);
  for (const tool of ['dirname', 'sed', 'grep', 'cat']) {
    const which = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    symlinkSync(which, join(bin, tool));
  }
  const fake = (name: string, body: string): void => {
    writeFileSync(join(bin, name), `#!/bin/bash\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  fake('id', `echo ${options.uid}`);
  fake('dpkg-query', `case " ${options.installed.join(' ')} " in *" \${@: -1} "*) echo "install ok installed";; *) exit 1;; esac`);
  fake('apt-get', `echo "apt-get $*" >> ${log}`);
  fake('npm', `echo "npm $* ONNXRUNTIME_NODE_INSTALL=$ONNXRUNTIME_NODE_INSTALL" >> ${log}`);
  if (options.sudo) fake('sudo', `echo "sudo $1" >> ${log}; "$@"`);
  return { bin, log, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

function run(bin: string, args: string[]) {
  return spawnSync('/bin/bash', [script, ...args], { encoding: 'utf8', env: { PATH: bin, HOME: tmpdir() } });
}

describe('scripts/setup.sh', () => {
  test('as a user with sudo: apt-get through sudo for what is missing, then npm install', () => {
    const m = machine({ uid: 1000, sudo: true, installed: ['g++', 'make'] });
    try {
      const r = run(m.bin, ['--test']);
      assert.equal(r.status, 0, r.stderr);
      const log = readFileSync(m.log, 'utf8');
      assert.match(log, /^sudo apt-get\napt-get update -qq\nsudo apt-get\napt-get install -y -qq --no-install-recommends python3 libopenblas-dev libdnnl-dev unyaffs chromium dataset-fashion-mnist parallel\nnpm install --no-audit --no-fund ONNXRUNTIME_NODE_INSTALL=skip\n$/);
    } finally {
      m.cleanup();
    }
  });

  test('without --test only the tools’ packages; nothing missing means no apt-get', () => {
    const m = machine({ uid: 0, sudo: false, installed: ['g++', 'make', 'python3', 'libopenblas-dev', 'libdnnl-dev'] });
    try {
      const r = run(m.bin, []);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(readFileSync(m.log, 'utf8'), 'npm install --no-audit --no-fund ONNXRUNTIME_NODE_INSTALL=skip\n');
    } finally {
      m.cleanup();
    }
  });

  test('not root and no sudo: a clear message naming the packages, exit 1, nothing run', () => {
    const m = machine({ uid: 1000, sudo: false, installed: [] });
    try {
      const r = run(m.bin, ['--test']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /setup: not root and sudo is not installed; as root run: apt-get install g\+\+ make python3 libopenblas-dev libdnnl-dev unyaffs chromium dataset-fashion-mnist parallel/);
      assert.equal(readFileSync(m.log, 'utf8'), '');
    } finally {
      m.cleanup();
    }
  });

  test('--dry-run changes nothing; an unknown option exits 2', () => {
    const m = machine({ uid: 1000, sudo: true, installed: [] });
    try {
      const r = run(m.bin, ['--dry-run']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /would install Debian packages: g\+\+ make python3 libopenblas-dev libdnnl-dev\n/);
      assert.equal(readFileSync(m.log, 'utf8'), '');
      assert.equal(run(m.bin, ['--bogus']).status, 2);
    } finally {
      m.cleanup();
    }
  });
});
