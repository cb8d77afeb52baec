#!/usr/bin/env node
'use strict';
// The `yaffs2` command: runs the compiled CLI, dist/yaffs2.cjs (one CommonJS bundle, no
// TypeScript loader at run time), through V8's code cache (bin/bundle.js). `npm install` builds
// it (the package's prepare script, which runs bin/build.js); when it is missing or older than a
// source (a working tree being edited), it is built here first, once. This directory's
// package.json makes these scripts CommonJS.
const { bundleIsCurrent, runBundle, bundlePath } = require('./bundle.js');

if (bundleIsCurrent() || process.env.YAFFS2_CODE_CACHE === 'write') {
  // (The build's training runs never build: they run what the build just wrote.)
  runBundle();
} else {
  require('./build.js')
    .buildCli()
    .then(
      () => runBundle(),
      (e) => {
        const reason = String(e && e.message ? e.message : e).split('\n')[0];
        process.stderr.write(`yaffs2: cannot build ${bundlePath} (${reason}); run npm install, or npm run build -w packages/yaffs2\n`);
        process.exitCode = 1;
      },
    );
}
