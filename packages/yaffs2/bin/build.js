'use strict';
// Builds the yaffs2 CLI into one CommonJS bundle, dist/yaffs2.cjs (esbuild: src/main.ts with the
// nand and cli-kit sources and commander, cli-progress and pure-rand inlined), and tells whether
// that bundle is older than what it is built from. CommonJS because a CommonJS script starts
// without Node's ES-module loader (and without the ES facade of node:fs, which loads fs/promises,
// streams and readline): about 0.02 s less per start than an ES-module bundle. cli-progress is
// bundled behind a proxy that loads it on first use (a progress bar is drawn only on a terminal,
// after half a second): it and the readline module it loads cost a start ~0.01 s otherwise.
// Run by `npm install` (the package's prepare script), `npm run build -w packages/yaffs2`, and
// by bin/yaffs2.js when the bundle is missing or stale. No upstream counterpart.
const fs = require('node:fs');
const path = require('node:path');

const packageDir = path.join(__dirname, '..');
const bundlePath = path.join(packageDir, 'dist', 'yaffs2.cjs');
/** Where the bundle's code comes from (the workspace packages it inlines). */
const sourceDirs = [path.join(packageDir, 'src'), path.join(packageDir, '..', 'nand', 'src'), path.join(packageDir, '..', 'cli-kit', 'src')];

/** Newest modification time (ms) of the sources, their directories (a file added or removed) and this script. */
function newestSourceTime() {
  let newest = fs.statSync(__filename).mtimeMs;
  for (const dir of sourceDirs) {
    let names;
    try {
      newest = Math.max(newest, fs.statSync(dir).mtimeMs);
      names = fs.readdirSync(dir, { recursive: true });
    } catch {
      continue; // not there (an install without the sources): nothing to be newer than the bundle
    }
    for (const name of names) {
      const t = fs.statSync(path.join(dir, name)).mtimeMs;
      if (t > newest) newest = t;
    }
  }
  return newest;
}

/** True when dist/yaffs2.cjs exists and is newer than every source it is built from. */
function bundleIsCurrent() {
  let built;
  try {
    built = fs.statSync(bundlePath).mtimeMs;
  } catch {
    return false;
  }
  return built > newestSourceTime();
}

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
    logLevel: 'warning',
    // import.meta.url (cli.ts finds package.json's version from it) as a CommonJS module has it.
    banner: { js: 'const __yaffs2ModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
    define: { 'import.meta.url': '__yaffs2ModuleUrl' },
    plugins: [lazyCliProgress],
  });
  fs.mkdirSync(path.dirname(bundlePath), { recursive: true });
  const temporary = `${bundlePath}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temporary, result.outputFiles[0].contents);
    fs.utimesSync(temporary, started, started);
    fs.renameSync(temporary, bundlePath);
  } finally {
    fs.rmSync(temporary, { force: true });
  }
}

module.exports = { bundlePath, bundleIsCurrent, buildCli };

if (require.main === module) {
  buildCli().catch((e) => {
    process.stderr.write(`yaffs2 build: ${e && e.message ? e.message : e}\n`);
    process.exitCode = 1;
  });
}
