/**
 * The `yaffs2` command's entry point: runs the CLI (cli.ts) on the process's arguments and
 * exits with its status. bin/build.js bundles this file, with everything it imports, into
 * dist/yaffs2.cjs, which bin/yaffs2.js runs; run by the build with YAFFS2_SNAPSHOT=build under
 * `node --build-snapshot`, it makes the startup snapshot's main instead (startup-snapshot.ts),
 * after a small import and extract whose compiled functions the snapshot keeps. No upstream
 * counterpart (mkyaffs2image's and unyaffs's main()).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './cli.ts';
import { SNAPSHOT_ENV, prepareStartupSnapshot } from './startup-snapshot.ts';

/** An import of a small tree and an extract of its image, in this process, output discarded (the snapshot's training run). */
async function warmUp(): Promise<void> {
  const work = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'yaffs2-snapshot-'));
  try {
    const tree = nodePath.join(work, 'tree');
    fs.mkdirSync(nodePath.join(tree, 'dir'), { recursive: true });
    fs.writeFileSync(nodePath.join(tree, 'dir', 'file.bin'), new Uint8Array(5000).fill(7));
    fs.writeFileSync(nodePath.join(tree, 'small.txt'), 'yaffs2\n');
    fs.symlinkSync('small.txt', nodePath.join(tree, 'link'));
    const image = nodePath.join(work, 'tree.img');
    if ((await runCli(['import', tree, image])) === 0) await runCli(['extract', image, nodePath.join(work, 'out')]);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (process.env[SNAPSHOT_ENV] === 'build') {
  void prepareStartupSnapshot(fileURLToPath(import.meta.url), runCli, warmUp);
} else {
  void runCli(process.argv.slice(2)).then((status) => {
    process.exitCode = status;
  });
}
