'use strict';
// Builds the yaffs2 CLI into one CommonJS bundle, dist/yaffs2.cjs (esbuild: src/main.ts with the
// nand and cli-kit sources and commander, cli-progress and pure-rand inlined), and tells whether
// that bundle is older than what it is built from. CommonJS because a CommonJS script starts
// without Node's ES-module loader (and without the ES facade of node:fs, which loads fs/promises,
// streams and readline): about 0.02 s less per start than an ES-module bundle. cli-progress is
// bundled behind a proxy that loads it on first use (a progress bar is drawn only on a terminal,
// after half a second): it and the readline module it loads cost a start ~0.01 s otherwise;
// node:child_process likewise (see lazyChildProcess).
// Beside the bundle it writes dist/yaffs2.inputs.json, the sources it was built from (what
// bin/bundle.js stats to tell a stale bundle), and, run as a script, trains the code cache
// (dist/yaffs2.cjs.cache, see bin/bundle.js) with an import and an extract of a small tree and
// makes the startup snapshot (dist/yaffs2.blob, see src/startup-snapshot.ts).
// Run by `npm install` (the package's prepare script), `npm run build -w packages/yaffs2`, and
// by bin/yaffs2.js when the bundle is missing or stale. No upstream counterpart.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { packageDir, bundlePath, inputsPath, bundleIsCurrent } = require('./bundle.js');

/** The startup snapshot, and beside it the node that made it (its path; its mtime that binary's): what bin/yaffs2.js's header checks. */
const blobPath = path.join(packageDir, 'dist', 'yaffs2.blob');
const blobNodePath = path.join(packageDir, 'dist', 'yaffs2.blob.node');

/** esbuild plugin: `import … from 'cli-progress'` gets a proxy that requires the real module on first use. */
const lazyCliProgress = {
  name: 'lazy-cli-progress',
  setup(build) {
    // The proxy's own require of cli-progress (namespace 'lazy') resolves as usual.
    build.onResolve({ filter: /^cli-progress$/ }, (args) => (args.namespace === 'lazy' ? undefined : { path: 'cli-progress', namespace: 'lazy' }));
    build.onLoad({ filter: /.*/, namespace: 'lazy' }, () => ({
      contents: "let real;\nmodule.exports = new Proxy({}, { get: (_, key) => (real ??= require('cli-progress'))[key] });\n",
      resolveDir: packageDir,
      loader: 'js',
    }));
  },
};

/**
 * esbuild plugin: `node:child_process` (commander requires it at its top for executable
 * subcommands, which yaffs2 has none of; extract.ts for mknod and mkfifo) becomes a module whose
 * spawn and spawnSync require the real one on first call: loading it at start-up loads net,
 * dgram and the stream modules with it, about 5 ms of every start. A name it does not export
 * fails the build (esbuild: no matching export).
 */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(build) {
    build.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      args.namespace === 'lazy-child-process' ? undefined : { path: 'child_process', namespace: 'lazy-child-process' },
    );
    build.onLoad({ filter: /.*/, namespace: 'lazy-child-process' }, () => ({
      contents:
        "export function spawn(...args) { return require('node:child_process').spawn(...args); }\n" +
        "export function spawnSync(...args) { return require('node:child_process').spawnSync(...args); }\n",
      resolveDir: packageDir,
      loader: 'js',
    }));
  },
};

/**
 * Builds dist/yaffs2.cjs: written to a temporary file and renamed into place (processes that
 * start meanwhile run the old bundle or the new one, never half of one), dated when the build
 * began (a source saved during the build leaves the bundle stale, so it is built again).
 * Asynchronous: esbuild runs plugins only in its asynchronous API.
 */
async function buildCli() {
  const started = Date.now() / 1000;
  const esbuild = require('esbuild');
  const result = await esbuild.build({
    entryPoints: [path.join(packageDir, 'src', 'main.ts')],
    outfile: bundlePath,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    metafile: true,
    absWorkingDir: packageDir,
    logLevel: 'warning',
    // import.meta.url (cli.ts finds package.json's version from it) as a CommonJS module has it.
    banner: { js: 'const __yaffs2ModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
    define: { 'import.meta.url': '__yaffs2ModuleUrl' },
    plugins: [lazyCliProgress, lazyChildProcess],
  });
  // The sources to stat (relative to the package): the workspace files esbuild read, not the
  // npm dependencies (npm install rebuilds on their change) nor the plugin's proxy, and this script.
  const inputs = Object.keys(result.metafile.inputs).filter((p) => !p.includes(':') && !p.split(/[\\/]/).includes('node_modules'));
  inputs.push(path.relative(packageDir, __filename));
  fs.mkdirSync(path.dirname(bundlePath), { recursive: true });
  writeAtomic(inputsPath, `${JSON.stringify(inputs, null, 1)}\n`);
  writeAtomic(bundlePath, result.outputFiles[0].contents, started);
}

/** Writes `file` through a temporary file renamed into place, dated `time` (seconds) when given. */
function writeAtomic(file, contents, time) {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temporary, contents);
    if (time !== undefined) fs.utimesSync(temporary, time, time);
    fs.renameSync(temporary, file);
  } finally {
    fs.rmSync(temporary, { force: true });
  }
}

/**
 * Trains the code cache: the bin imports a small tree and extracts the image, each run told to
 * write the cache at its exit (YAFFS2_CODE_CACHE=write), the second keeping what the first
 * compiled; so the cache holds the functions of a start, of import and of extract. Best effort:
 * without it the first run of the bin writes the cache of its own command.
 */
function trainCodeCache() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-build-'));
  try {
    const tree = path.join(work, 'tree');
    fs.mkdirSync(path.join(tree, 'dir'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'dir', 'file.bin'), Buffer.alloc(5000, 7));
    fs.writeFileSync(path.join(tree, 'small.txt'), 'yaffs2\n');
    fs.symlinkSync('small.txt', path.join(tree, 'link'));
    const bin = path.join(__dirname, 'yaffs2.js');
    const env = { ...process.env, YAFFS2_CODE_CACHE: 'write' };
    const image = path.join(work, 'tree.img');
    for (const args of [['import', tree, image], ['extract', image, path.join(work, 'out')]]) {
      if (spawnSync(process.execPath, [bin, ...args], { env, stdio: 'ignore' }).status !== 0) break;
    }
  } catch {
    // best effort (see above)
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Makes the startup snapshot: the bundle run under `node --build-snapshot` with
 * YAFFS2_SNAPSHOT=build (src/main.ts: a small import and extract in that process, then the
 * snapshot's main), written to a temporary file and renamed into place after
 * dist/yaffs2.blob.node (this node's path, dated as this node's binary: `touch -r`, exact to the
 * nanosecond). Whatever was there goes first, so an old blob never pairs with a new stamp. Best
 * effort: without a blob (or with a stale one) the bin runs as `node bin/yaffs2.js`.
 * `node` is the Node to make it with (tests); the bin's header runs the blob only with that one.
 */
function buildSnapshot(node = process.execPath) {
  const temporary = `${blobPath}.${process.pid}.tmp`;
  try {
    fs.rmSync(blobPath, { force: true });
    fs.rmSync(blobNodePath, { force: true });
    const made = spawnSync(node, ['--snapshot-blob', temporary, '--build-snapshot', bundlePath], {
      env: { ...process.env, YAFFS2_SNAPSHOT: 'build' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (made.status !== 0 || !fs.existsSync(temporary)) return false;
    fs.writeFileSync(blobNodePath, `${node}\n`);
    if (spawnSync('touch', ['-r', node, blobNodePath], { stdio: 'ignore' }).status !== 0) {
      const st = fs.statSync(node);
      fs.utimesSync(blobNodePath, st.atime, st.mtime);
    }
    fs.renameSync(temporary, blobPath);
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(temporary, { force: true });
  }
}

module.exports = { bundlePath, blobPath, blobNodePath, bundleIsCurrent, buildCli, trainCodeCache, buildSnapshot };

if (require.main === module) {
  buildCli().then(() => {
    trainCodeCache();
    buildSnapshot();
  }, (e) => {
    process.stderr.write(`yaffs2 build: ${e && e.message ? e.message : e}\n`);
    process.exitCode = 1;
  });
}
