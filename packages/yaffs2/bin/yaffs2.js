#!/usr/bin/env node
'use strict';
// The `yaffs2` command: runs the compiled CLI, dist/yaffs2.cjs (one CommonJS bundle, no
// TypeScript loader at run time). `npm install` builds it (the package's prepare script, which
// runs bin/build.js); when it is missing or older than a source (a working tree being edited),
// it is built here first, once. This directory's package.json makes these scripts CommonJS.
const { bundlePath, bundleIsCurrent, buildCli } = require('./build.js');

if (bundleIsCurrent()) {
  require(bundlePath);
} else {
  buildCli().then(
    () => require(bundlePath),
    (e) => {
      const reason = String(e && e.message ? e.message : e).split('\n')[0];
      process.stderr.write(`yaffs2: cannot build ${bundlePath} (${reason}); run npm install, or npm run build -w packages/yaffs2\n`);
      process.exitCode = 1;
    },
  );
}
