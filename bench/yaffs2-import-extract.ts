/**
 * Benchmark: `import` of a ~50 MB tree of mixed file sizes (seeded, the same tree as
 * bench/yaffs2-speed.ts) into a YAFFS2 image, and `extract` of that image, in one process
 * through the library calls — the general path (image.ts importTree; openImage + extractTree
 * over the mounted file-system model) beside the streaming path the CLI uses
 * (stream-import.ts streamImport; stream-extract.ts streamExtract), run alternately, best of N;
 * both outputs are checked equal (images byte for byte, extracted trees file by file).
 * Whole-process figures against mkyaffs2image and unyaffs: bench/yaffs2-speed.ts.
 * Run: npx tsx bench/yaffs2-import-extract.ts [--mb 50] [--runs 5]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { extractTree, importTree, openImage } from '@flashdiff/yaffs2';
import { streamImport } from '../packages/yaffs2/src/stream-import.ts';
import { streamExtract } from '../packages/yaffs2/src/stream-extract.ts';

const argv = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback;
};
const targetMb = Number(option('mb', '50'));
const runs = Number(option('runs', '5'));

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

/** Every file's bytes under `root`, by relative path (the two extractions must agree). */
function treeContents(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string): void => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.set(path.relative(root, p), fs.readFileSync(p));
    }
  };
  walk(root);
  return out;
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-bench-'));
try {
  const tree = path.join(work, 'tree');
  const random = mulberry32(16);
  let total = 0;
  let files = 0;
  while (total < targetMb * 1024 * 1024) {
    const pick = random();
    const size = pick < 0.6 ? Math.floor(random() * 16384) : pick < 0.9 ? Math.floor(random() * 262144) : Math.floor(random() * 2_097_152);
    const dir = path.join(tree, `d${files % 13}`, `e${files % 4}`);
    fs.mkdirSync(dir, { recursive: true });
    const data = Buffer.alloc(size);
    for (let i = 0; i + 4 <= size; i += 4) data.writeUInt32LE((random() * 0x100000000) >>> 0, i);
    fs.writeFileSync(path.join(dir, `f${files}.bin`), data);
    total += size;
    files++;
  }
  const mb = total / (1024 * 1024);
  const general = path.join(work, 'general.img');
  const stream = path.join(work, 'stream.img');
  const outGeneral = path.join(work, 'out-general');
  const outStream = path.join(work, 'out-stream');
  const best = { importGeneral: Infinity, importStream: Infinity, extractGeneral: Infinity, extractStream: Infinity };
  const time = (f: () => void): number => {
    const t0 = performance.now();
    f();
    return (performance.now() - t0) / 1000;
  };
  const now = (): number => 1_700_000_000;
  for (let run = 0; run < runs; run++) {
    fs.rmSync(general, { force: true });
    fs.rmSync(stream, { force: true });
    best.importGeneral = Math.min(best.importGeneral, time(() => importTree(tree, general, { now })));
    best.importStream = Math.min(best.importStream, time(() => streamImport(tree, stream, { now })));
    fs.rmSync(outGeneral, { recursive: true, force: true });
    fs.rmSync(outStream, { recursive: true, force: true });
    best.extractGeneral = Math.min(
      best.extractGeneral,
      time(() => {
        const img = openImage(general, { readOnly: true });
        extractTree(img.fs, outGeneral);
        img.close();
      }),
    );
    best.extractStream = Math.min(
      best.extractStream,
      time(() => {
        const r = streamExtract(general, outStream, {});
        if (r === null) throw new Error('the streaming extract handed the image to the general path');
      }),
    );
  }
  const same = Buffer.compare(fs.readFileSync(general), fs.readFileSync(stream)) === 0;
  const a = treeContents(outGeneral);
  const b = treeContents(outStream);
  const sameTrees = a.size === b.size && [...a].every(([k, v]) => b.get(k)?.equals(v) === true);
  if (!same || !sameTrees) throw new Error(`outputs differ: images ${same ? 'equal' : 'differ'}, extracted trees ${sameTrees ? 'equal' : 'differ'}`);
  const row = (what: string, g: number, s: number): string =>
    `${what.padEnd(8)} general ${g.toFixed(3)} s (${(mb / g).toFixed(0)} MiB/s)   stream ${s.toFixed(3)} s (${(mb / s).toFixed(0)} MiB/s)   general ÷ stream ${(g / s).toFixed(2)}×`;
  console.log(`tree: ${files} files, ${mb.toFixed(1)} MiB; best of ${runs} in-process runs, the two paths alternating; outputs equal`);
  console.log(row('import', best.importGeneral, best.importStream));
  console.log(row('extract', best.extractGeneral, best.extractStream));
  console.log(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(`command: npx tsx bench/yaffs2-import-extract.ts --mb ${targetMb} --runs ${runs}`);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
