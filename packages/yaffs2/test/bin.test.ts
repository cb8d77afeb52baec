// bin/yaffs2.js runs the compiled bundle (dist/yaffs2.cjs) as CommonJS: no TypeScript loader and
// no ES-module loader at run time (issue 16: a CLI that starts in well under 0.1 s).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const bin = new URL('../bin/yaffs2.js', import.meta.url).pathname;
const bundle = new URL('../dist/yaffs2.cjs', import.meta.url).pathname;

test('yaffs2 --version runs dist/yaffs2.cjs with neither tsx nor the ES-module loader', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-bin-'));
  try {
    // Preloaded into the CLI's process: at exit, the modules it loaded.
    const probe = path.join(work, 'probe.cjs');
    const report = path.join(work, 'loaded.json');
    fs.writeFileSync(
      probe,
      `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(report)}, JSON.stringify({ files: Object.keys(require.cache), builtins: process.moduleLoadList })));\n`,
    );
    // A working tree being edited may have a stale bundle: the first run builds it (with esbuild).
    assert.equal(spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }).status, 0);
    const r = spawnSync(process.execPath, ['--require', probe, bin, '--version'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
    const loaded = JSON.parse(fs.readFileSync(report, 'utf8')) as { files: string[]; builtins: string[] };
    assert.ok(loaded.files.includes(bundle), `the bundle was not run: ${loaded.files.join(', ')}`);
    assert.deepEqual(loaded.files.filter((f) => /[\\/](tsx|esbuild)[\\/]|\.ts$/.test(f)), []);
    assert.deepEqual(loaded.builtins.filter((m) => m.includes('internal/modules/esm/loader') || m.includes('internal/modules/esm/translators')), []);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});
