#!/bin/sh
':' //; # A shell script to sh, JavaScript to Node (each of these lines is a string and a comment to it).
':' //; # Run as a command, it starts Node from the CLI's startup snapshot (dist/yaffs2.blob, see
':' //; # src/startup-snapshot.ts) when the blob is newer than the bundle and the `node` that PATH finds
':' //; # is the one that made it (the path in dist/yaffs2.blob.node, whose mtime is that binary's: a
':' //; # blob of another Node version makes Node abort); otherwise, or with YAFFS2_SNAPSHOT=off, as
':' //; # `node bin/yaffs2.js`. Builtins only, and readlink for a symlinked command (npm's bin link).
':' //; # yaffs2 opens no TLS connection, so a CA bundle named by NODE_EXTRA_CA_CERTS (which Node parses
':' //; # at every start, before any JavaScript: ~50 ms for a system bundle of 144 certificates) is dropped.
':' //; unset NODE_EXTRA_CA_CERTS
':' //; b=$0; [ -L "$b" ] && b=$(readlink -f -- "$b"); case $b in */*) ;; *) b=./$b ;; esac; d=${b%/*}/../dist
':' //; if [ "$YAFFS2_SNAPSHOT" != off ] && [ "$d/yaffs2.blob" -nt "$d/yaffs2.cjs" ] && [ -f "$d/yaffs2.blob.node" ] && read -r n < "$d/yaffs2.blob.node"; then
':' //;   p=; o=$IFS; IFS=:; set -f; for x in $PATH; do [ -f "${x:-.}/node" ] && [ -x "${x:-.}/node" ] && { p=${x:-.}/node; break; }; done; IFS=$o; set +f
':' //;   [ "$p" = "$n" ] && [ ! "$n" -nt "$d/yaffs2.blob.node" ] && [ ! "$n" -ot "$d/yaffs2.blob.node" ] && exec "$n" --snapshot-blob "$d/yaffs2.blob" "$b" "$@"
':' //; fi
':' //; exec node "$b" "$@"
'use strict';
// The `yaffs2` command (as `node bin/yaffs2.js`, or from the header above without a snapshot): runs the compiled CLI, dist/yaffs2.cjs (one CommonJS bundle, no
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
