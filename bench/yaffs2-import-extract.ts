/**
 * Benchmark: `import` of a ~20 MB tree of mixed file sizes (seeded) into a YAFFS2 image and
 * `extract` of that image, through the library calls the CLI uses. Prints MB/s for each.
 * Run: npx tsx bench/yaffs2-import-extract.ts
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { extractTree, importTree, openImage } from '@flashdiff/yaffs2';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TARGET_BYTES = 20 * 1024 * 1024;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-bench-'));
try {
  const tree = path.join(work, 'tree');
  const random = mulberry32(2024);
  let total = 0;
  let files = 0;
  // Mixed sizes: many small files, some around the chunk size, a few large ones.
  while (total < TARGET_BYTES) {
    const pick = random();
    const size =
      pick < 0.5 ? Math.floor(random() * 4096) : pick < 0.85 ? Math.floor(random() * 65536) : Math.floor(random() * 1_048_576);
    const dir = path.join(tree, `d${files % 17}`, `e${files % 5}`);
    fs.mkdirSync(dir, { recursive: true });
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i += 4) {
      const v = (random() * 0x100000000) >>> 0;
      data[i] = v;
      data[i + 1] = v >>> 8;
      data[i + 2] = v >>> 16;
      data[i + 3] = v >>> 24;
    }
    fs.writeFileSync(path.join(dir, `f${files}.bin`), data);
    total += size;
    files++;
  }
  const image = path.join(work, 'bench.img');
  const t0 = performance.now();
  importTree(tree, image);
  const t1 = performance.now();
  const img = openImage(image, { readOnly: true });
  extractTree(img.fs, path.join(work, 'out'));
  img.close();
  const t2 = performance.now();
  const mb = total / (1024 * 1024);
  console.log(`tree: ${files} files, ${mb.toFixed(1)} MiB`);
  console.log(`import:  ${(mb / ((t1 - t0) / 1000)).toFixed(1)} MiB/s (${((t1 - t0) / 1000).toFixed(2)} s)`);
  console.log(`extract: ${(mb / ((t2 - t1) / 1000)).toFixed(1)} MiB/s (${((t2 - t1) / 1000).toFixed(2)} s, mount by scan included)`);
  console.log('command: npx tsx bench/yaffs2-import-extract.ts');
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
