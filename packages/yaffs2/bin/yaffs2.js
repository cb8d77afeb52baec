#!/usr/bin/env node
// Runs the compiled CLI, dist/yaffs2.mjs (`npm run build -w packages/yaffs2`: one esbuild bundle,
// started without a TypeScript loader), when it is newer than every source it was built from;
// otherwise the TypeScript sources through tsx's loader, so the package needs no build step.
import { readdirSync, statSync } from 'node:fs';

const root = new URL('../../../', import.meta.url);
const bundle = new URL('../dist/yaffs2.mjs', import.meta.url);

function newestSource() {
  let newest = 0;
  for (const dir of ['packages/yaffs2/src/', 'packages/nand/src/', 'packages/cli-kit/src/']) {
    const base = new URL(dir, root);
    for (const name of readdirSync(base, { recursive: true })) {
      const t = statSync(new URL(String(name), base)).mtimeMs;
      if (t > newest) newest = t;
    }
  }
  return newest;
}

let compiled = false;
try {
  compiled = statSync(bundle).mtimeMs > newestSource();
} catch {
  compiled = false; // no bundle (or a source tree we cannot list): run the sources
}
if (compiled) {
  await import(bundle.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
}
