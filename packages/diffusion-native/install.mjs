// Install-time build of the N-API addon. It must never fail `npm install`: when the compiler,
// node headers, OpenBLAS or oneDNN are missing, it prints one line and exits 0, and the package's
// registerNativeBackend() then reports the backend as unavailable (the wasm/cpu backends still work).
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const verbose = process.argv.includes('--verbose');
const log = join(here, 'build-native.log');

function unavailable(reason) {
  console.log(`@flashdiff/diffusion-native: native backend unavailable (${reason}); tfjs wasm/cpu backends still work`);
  process.exit(0);
}

if (process.env.FLASHDIFF_SKIP_NATIVE_BUILD === '1') unavailable('FLASHDIFF_SKIP_NATIVE_BUILD=1');
// Headers: use the ones installed with node (Debian: /usr/include/node) so nothing is downloaded.
const prefix = resolve(dirname(process.execPath), '..');
if (!existsSync(join(prefix, 'include', 'node', 'node_api.h'))) unavailable(`no node headers under ${prefix}/include/node`);

let gyp;
try {
  const npmDir = resolve(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm');
  const candidates = [join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')];
  if (process.env.npm_config_node_gyp) candidates.unshift(process.env.npm_config_node_gyp);
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    /* not installed as a package: npm's bundled copy is used */
  }
  gyp = candidates.find((c) => existsSync(c));
} catch {
  gyp = undefined;
}
if (!gyp) unavailable('node-gyp not found');

const result = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${prefix}`, '-j', '2'], {
  cwd: here,
  encoding: 'utf8',
  stdio: verbose ? 'inherit' : 'pipe',
});
if (!verbose) writeFileSync(log, `${result.stdout ?? ''}\n${result.stderr ?? ''}`);
if (result.status !== 0) unavailable(`build failed; see ${log}; needs g++ and libopenblas-dev (optionally libdnnl-dev)`);
console.log('@flashdiff/diffusion-native: native backend built (build/Release/flashdiff_native.node)');
