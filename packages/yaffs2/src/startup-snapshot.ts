/**
 * The CLI started from a V8 startup snapshot, dist/yaffs2.blob: the bundle (dist/yaffs2.cjs)
 * already evaluated — commander, the commands and every module's top level in the heap, and the
 * functions a start, an `import` and an `extract` run compiled — so a start deserialises it
 * instead of reading, compiling and running the bundle. bin/build.js makes the blob by running
 * the bundle under `node --build-snapshot` with YAFFS2_SNAPSHOT=build (main.ts then calls
 * {@link prepareStartupSnapshot} instead of running the CLI); bin/yaffs2.js's shell header starts
 * `node --snapshot-blob dist/yaffs2.blob bin/yaffs2.js …` only when the blob is newer than the
 * bundle and was made by the very `node` it would run (see there; Node aborts on a blob of another
 * version). Here, on deserialisation, the snapshot runs the CLI only when it was made from the
 * bundle beside the bin that started it (same path, size, mtime and inode) and that bundle is
 * current (no source newer, as bin/bundle.js bundleIsCurrent tells); otherwise it runs the bin
 * as `node bin/yaffs2.js` would (which rebuilds a stale bundle), so a blob never runs code other
 * than the current bundle's. No upstream counterpart.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';

/** The environment variable: `build` while bin/build.js makes the blob; `off` (read by bin/yaffs2.js's header) never uses it. */
export const SNAPSHOT_ENV = 'YAFFS2_SNAPSHOT';

/** The bundle as stat tells it: what the blob was made from. */
function bundleKey(st: fs.Stats): string {
  return `${st.size} ${st.mtimeMs} ${st.ino}`;
}

/**
 * The bundle at `bundlePath` is newer than every source it was built from (the list bin/build.js
 * wrote in dist/yaffs2.inputs.json, relative to `packageDir`); a source that is gone makes it
 * stale unless its whole directory is gone (an install without sources). bin/bundle.js's
 * bundleIsCurrent, which the bin runs when no snapshot does (a declared copy: its `// Mirrors:`
 * marker there is checked by scripts/check-mirrors.ts).
 */
export function bundleIsCurrent(packageDir: string, bundlePath: string): boolean {
  let built: fs.Stats;
  let inputs: unknown;
  try {
    built = fs.statSync(bundlePath);
    inputs = JSON.parse(fs.readFileSync(nodePath.join(packageDir, 'dist', 'yaffs2.inputs.json'), 'utf8'));
  } catch {
    return false;
  }
  if (!Array.isArray(inputs) || inputs.length === 0) return false;
  for (const input of inputs) {
    const file = nodePath.join(packageDir, String(input));
    const st = fs.statSync(file, { throwIfNoEntry: false });
    if (st === undefined) {
      if (fs.existsSync(nodePath.dirname(file))) return false;
    } else if (st.mtimeMs >= built.mtimeMs) {
      return false;
    }
  }
  return true;
}

/**
 * Makes the running bundle (`bundlePath`, being snapshotted) the blob's main: on
 * deserialisation, process.argv is [node, bin/yaffs2.js, …the command's arguments] (the bin's
 * header passes its own path first) and `run` gets the arguments when the checks in the file
 * comment pass. `warmUp` runs before the heap is written (the build's small import and extract,
 * so their functions are compiled in the blob).
 */
export async function prepareStartupSnapshot(bundlePath: string, run: (argv: string[]) => Promise<number>, warmUp: () => Promise<void>): Promise<void> {
  // Loaded only here: node:v8 loads Node's stream modules, which a normal start leaves alone.
  const v8 = process.getBuiltinModule('node:v8');
  const madeFrom = bundleKey(fs.statSync(bundlePath));
  await warmUp();
  process.exitCode = undefined;
  v8.startupSnapshot.setDeserializeMainFunction(() => {
    const bin = process.argv[1];
    if (bin !== undefined && snapshotFits(bin, bundlePath, madeFrom)) {
      void run(process.argv.slice(2)).then((status) => {
        process.exitCode = status;
      });
    } else {
      // The bin as `node bin/yaffs2.js …` runs it (process.argv is already that).
      process.getBuiltinModule('node:module').runMain();
    }
  });
}

/** The blob's bundle is the one beside `bin`, unchanged and current (see the file comment). */
function snapshotFits(bin: string, bundlePath: string, madeFrom: string): boolean {
  const packageDir = nodePath.dirname(nodePath.dirname(nodePath.resolve(bin)));
  const bundle = nodePath.join(packageDir, 'dist', 'yaffs2.cjs');
  if (bundle !== bundlePath) return false;
  const st = fs.statSync(bundle, { throwIfNoEntry: false });
  return st !== undefined && bundleKey(st) === madeFrom && bundleIsCurrent(packageDir, bundle);
}
