#!/bin/sh
':' //; # A shell script to sh, JavaScript to Node (each of these lines is a string and a comment to it).
':' //; # Run as a command, it starts Node on this file without NODE_EXTRA_CA_CERTS: ssdsim opens no TLS
':' //; # connection, and Node parses the CA bundle that variable names at every start, before any
':' //; # JavaScript (~50 ms for a system bundle of 144 certificates); as `node bin/ssdsim.js` Node keeps it.
':' //; unset NODE_EXTRA_CA_CERTS
':' //; exec node "$0" "$@"
// The `ssdsim` command: runs the compiled CLI, dist/ssdsim.mjs (bin/build.js: an esbuild bundle
// whose worker threads are compiled too), so that no process or thread loads tsx or compiles
// TypeScript. `npm install` builds it (the package's prepare script); when it is missing, stale
// (a source newer than the build: a working tree being edited) or incomplete (bin/bundle.js), it
// is built here first. Whatever goes wrong with the bundle (esbuild missing, a build error, a
// bundle that does not load), the CLI still runs, from the TypeScript sources through tsx, as it
// did before there was a bundle; SSDSIM_BUNDLE=off asks for that directly (the
// README's start-up comparison). No upstream counterpart.
import { pathToFileURL } from 'node:url';
import { bundleIsCurrent, bundlePath } from './bundle.js';

/** Set by every module of the bundle as it starts (bin/build.js's banner): an error after that is the CLI's, not the bundle's. */
const STARTED = Symbol.for('ssdsim.bundle.started');

async function runFromSources(reason) {
  if (reason !== undefined && process.env.SSDSIM_BUNDLE_QUIET !== '1') {
    process.stderr.write(`ssdsim: running from the TypeScript sources (${reason})\n`);
  }
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
}

async function main() {
  if (process.env.SSDSIM_BUNDLE === 'off') return runFromSources();
  if (!bundleIsCurrent()) {
    try {
      const { buildCli } = await import('./build.js');
      await buildCli();
    } catch (e) {
      return runFromSources(`cannot build ${bundlePath}: ${String(e?.message ?? e).split('\n')[0]}`);
    }
  }
  try {
    await import(pathToFileURL(bundlePath).href);
  } catch (e) {
    // A bundle that fails to parse or link has run nothing: the sources can still run it all.
    if (globalThis[STARTED] === true) throw e;
    return runFromSources(`cannot load ${bundlePath}: ${String(e?.message ?? e).split('\n')[0]}`);
  }
}

await main();
