// Builds the ssdsim CLI into dist/ (esbuild, ES modules with code splitting): ssdsim.mjs from
// src/cli.ts, ssdsim-thread.mjs from src/scenario/thread-worker.ts (the simulation thread of run
// and replay) and ssdsim-sweep-worker.mjs from src/sweep/worker.ts (sweep workers), with the nand
// and cli-kit sources and commander, cli-progress and pure-rand inlined, so that no process or
// thread needs tsx. ES modules, not CommonJS as yaffs2's bundle: cli.ts awaits at its top level,
// and vega (which `ssdsim plot` imports lazily) is an ES module with top-level await that require()
// cannot load; with splitting, the plot code and its static imports of vega, vega-lite and resvg
// (left external, as yaml, which the sources load through createRequire) sit in a chunk loaded
// only by `ssdsim plot`. `import.meta.url` in each source is rewritten to that source's own URL
// (relative to dist/), so that what it locates (the shipped scenarios, package.json) is found as
// from src/; src/scenario/thread.ts and src/sweep/run.ts start the compiled worker entries when
// SSDSIM_THREAD_ENTRY / SSDSIM_SWEEP_WORKER_ENTRY are defined (here, relative to the source).
// Outputs are written to a temporary folder (dist/.build-*) and renamed into dist/, the manifest
// (ssdsim.inputs.json, see bin/bundle.js) last, dated when the build began (a source saved during
// the build leaves the bundle stale). Builds from the same sources write the same files, so
// processes building at once (a fresh clone's parallel tests) agree. Run by `npm install` (the
// package's prepare script), `npm run build -w packages/ssd`, and by bin/ssdsim.js when the
// bundle is missing or stale. No upstream counterpart.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageDir, distDir, manifestPath } from './bundle.js';

const ENTRIES = {
  ssdsim: 'src/cli.ts',
  'ssdsim-thread': 'src/scenario/thread-worker.ts',
  'ssdsim-sweep-worker': 'src/sweep/worker.ts',
};
/** Loaded at run time from node_modules: heavy and needed by `ssdsim plot` only (or, yaml, loaded through createRequire). */
const EXTERNAL = ['vega', 'vega-lite', '@resvg/resvg-js', 'yaml'];

/** The path of `file` relative to dist/, in URL form. */
function fromDist(file) {
  return path.relative(distDir, file).split(path.sep).join('/');
}

/** esbuild plugin: `import.meta.url` in a workspace source becomes that source's URL (see the file comment). */
const sourceUrls = {
  name: 'source-urls',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (args.path.split(path.sep).includes('node_modules')) return undefined;
      const source = await fs.promises.readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return undefined;
      const url = `new URL(${JSON.stringify(fromDist(args.path))}, import.meta.url).href`;
      return { contents: source.replaceAll('import.meta.url', url), loader: 'ts' };
    });
  },
};

/**
 * Removes the chunks earlier builds left in dist/ (their names are hashes of their contents) once
 * they are an hour old: a process started on an older bundle loads its lazy chunks (the plots)
 * after its start, so a chunk is not removed the moment a new build stops using it.
 */
function removeOldChunks(current) {
  const before = Date.now() - 3600_000;
  for (const name of fs.readdirSync(distDir)) {
    // (and the temporary folders of builds killed midway)
    if (!(name.startsWith('chunk-') || name.startsWith('.build-')) || current.has(name)) continue;
    const file = path.join(distDir, name);
    try {
      if (fs.statSync(file).mtimeMs < before) fs.rmSync(file, { recursive: true, force: true });
    } catch {
      // another build removed it
    }
  }
}

/** Builds dist/ (see the file comment). Rejects with esbuild's error when a source does not compile. */
export async function buildCli() {
  const started = Date.now() / 1000;
  const { build } = await import('esbuild');
  // The temporary folder inside dist/ (ignored by git), where a build killed midway leaves it.
  fs.mkdirSync(distDir, { recursive: true });
  const work = fs.mkdtempSync(path.join(distDir, '.build-'));
  try {
    const result = await build({
      entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, file]) => [name, path.join(packageDir, file)])),
      outdir: work,
      outExtension: { '.js': '.mjs' },
      chunkNames: 'chunk-[hash]',
      bundle: true,
      splitting: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: EXTERNAL,
      metafile: true,
      absWorkingDir: packageDir,
      logLevel: 'silent',
      // Bundled CommonJS dependencies (commander) require Node's built-in modules.
      // Each module marks the bundle as started (bin/ssdsim.js: errors after that are the CLI's).
      banner: {
        js: 'import { createRequire as __ssdsimCreateRequire } from "node:module"; const require = __ssdsimCreateRequire(import.meta.url); globalThis[Symbol.for("ssdsim.bundle.started")] = true;',
      },
      define: {
        SSDSIM_THREAD_ENTRY: JSON.stringify(path.relative(path.join(packageDir, 'src/scenario'), path.join(distDir, 'ssdsim-thread.mjs')).split(path.sep).join('/')),
        SSDSIM_SWEEP_WORKER_ENTRY: JSON.stringify(path.relative(path.join(packageDir, 'src/sweep'), path.join(distDir, 'ssdsim-sweep-worker.mjs')).split(path.sep).join('/')),
      },
      plugins: [sourceUrls],
    });
    // The sources to stat (relative to the package): the workspace files esbuild read, not the
    // npm dependencies (npm install rebuilds on their change), and the build's own scripts.
    const inputs = Object.keys(result.metafile.inputs)
      .filter((p) => !p.includes(':') && !p.split(/[\\/]/).includes('node_modules'))
      .map((p) => path.relative(packageDir, path.resolve(packageDir, p)));
    for (const script of ['build.js', 'bundle.js', 'ssdsim.js']) inputs.push(path.join('bin', script));
    const outputs = {};
    for (const file of Object.keys(result.metafile.outputs)) {
      const name = path.basename(file);
      outputs[name] = fs.statSync(path.join(work, name)).size;
    }
    // Chunks first, entries next, the manifest last: a process that finds the manifest finds it all.
    const names = Object.keys(outputs).sort((a, b) => Number(!a.startsWith('chunk-')) - Number(!b.startsWith('chunk-')));
    for (const name of names) fs.renameSync(path.join(work, name), path.join(distDir, name));
    const temporary = path.join(work, 'manifest.json');
    fs.writeFileSync(temporary, `${JSON.stringify({ inputs, outputs }, null, 1)}\n`);
    fs.utimesSync(temporary, started, started);
    fs.renameSync(temporary, manifestPath);
    removeOldChunks(new Set(names));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) {
  buildCli().catch((e) => {
    process.stderr.write(`ssdsim build: ${String(e?.message ?? e).split('\n')[0]}\n`);
    process.exitCode = 1;
  });
}
