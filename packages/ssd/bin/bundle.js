// Where the compiled ssdsim lives and whether it is current: dist/ holds the ES-module bundle
// bin/build.js writes (ssdsim.mjs, the CLI; ssdsim-thread.mjs and ssdsim-sweep-worker.mjs, the
// worker threads' entries; shared and lazily loaded chunks beside them) and dist/ssdsim.inputs.json,
// the sources it was built from and the outputs it wrote with their sizes. The bundle is current
// when that manifest exists, every output is there at its recorded size (a truncated or missing
// chunk is a stale bundle), and no source is newer than the build (one stat per file, no directory
// walk; the same staleness rule as packages/yaffs2/bin/bundle.js, whose V8 code cache this does not
// copy: the bundle is an ES module, which Node 20 cannot load through a code cache). No upstream
// counterpart.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const packageDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
export const distDir = path.join(packageDir, 'dist');
export const bundlePath = path.join(distDir, 'ssdsim.mjs');
/** The build's manifest: { inputs: paths relative to the package, outputs: { name: size } }. */
export const manifestPath = path.join(distDir, 'ssdsim.inputs.json');

/**
 * True when the manifest exists, lists the three entries, every output it lists has its recorded
 * size, and every source it lists is older than the build (the manifest's mtime, set to when the
 * build began). A recorded source that is gone makes it stale, unless its whole directory is gone
 * (an install without the sources: nothing to be newer than the bundle).
 */
export function bundleIsCurrent() {
  let built;
  let manifest;
  try {
    built = fs.statSync(manifestPath);
    manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  } catch {
    return false;
  }
  const inputs = manifest?.inputs;
  const outputs = manifest?.outputs;
  if (!Array.isArray(inputs) || inputs.length === 0 || typeof outputs !== 'object' || outputs === null) return false;
  for (const name of ['ssdsim.mjs', 'ssdsim-thread.mjs', 'ssdsim-sweep-worker.mjs']) if (!(name in outputs)) return false;
  for (const [name, size] of Object.entries(outputs)) {
    const st = fs.statSync(path.join(distDir, name), { throwIfNoEntry: false });
    if (st === undefined || st.size !== size) return false;
  }
  for (const input of inputs) {
    const file = path.join(packageDir, String(input));
    const st = fs.statSync(file, { throwIfNoEntry: false });
    if (st === undefined) {
      if (fs.existsSync(path.dirname(file))) return false;
    } else if (st.mtimeMs >= built.mtimeMs) {
      return false;
    }
  }
  return true;
}
