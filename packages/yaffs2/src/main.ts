/**
 * The `yaffs2` command's entry point: runs the CLI (cli.ts) on the process's arguments and
 * exits with its status. bin/build.js bundles this file, with everything it imports, into
 * dist/yaffs2.cjs, which bin/yaffs2.js runs. No upstream counterpart (mkyaffs2image's and
 * unyaffs's main()).
 */
import { runCli } from './cli.ts';

void runCli(process.argv.slice(2)).then((status) => {
  process.exitCode = status;
});
