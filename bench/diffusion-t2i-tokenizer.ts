/**
 * The two vocabularies `diffusion train-clip --tokenizer bpe|clip` can use, side by side on 20,000
 * fresh Shapes captions (samples 1,000,000 … of the train stream, seed 0): vocabulary size, tokens
 * per caption (mean, max), the text encoder's embedding table at width 64, and tokenize time per
 * caption through `call` with max_length padding (cold: a fresh tokenizer, its BPE cache empty;
 * warm: the same captions again), plus the caption words either splits into several tokens. Both
 * vocabularies are measured twice and the second round printed (the first warms up the JIT).
 *
 * Run: npx tsx bench/diffusion-t2i-tokenizer.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shapesSample } from '../packages/diffusion/src/data/shapes.ts';
import { writeTokenizerFolder } from '../packages/diffusion/src/node/t2i-train-cli.ts';
import { loadClipTokenizer } from '../packages/diffusion/src/text/clip-tokenizer-node.ts';

const captions = Array.from({ length: 20_000 }, (_, i) => shapesSample(0, 1_000_000 + i).scene.caption);
const words = [...new Set(captions.flatMap((c) => c.split(' ')))].sort();
const dir = mkdtempSync(join(tmpdir(), 'bench-t2i-tokenizer-'));
try {
  for (const [round, kind] of [[0, 'bpe'], [0, 'clip'], [1, 'bpe'], [1, 'clip']] as const) {
    const folder = writeTokenizerFolder(join(dir, kind), kind, 0);
    const tokenizer = loadClipTokenizer(folder);
    let total = 0;
    let max = 0;
    for (const c of captions) {
      const n = tokenizer.encode(c).length;
      total += n;
      max = Math.max(max, n);
    }
    const fresh = loadClipTokenizer(folder);
    let t0 = performance.now();
    fresh.call(captions, { padding: 'max_length' });
    const cold = ((performance.now() - t0) * 1000) / captions.length;
    t0 = performance.now();
    fresh.call(captions, { padding: 'max_length' });
    const warm = ((performance.now() - t0) * 1000) / captions.length;
    const split = words.filter((w) => tokenizer.encode(w, { addSpecialTokens: false }).length > 1);
    if (round === 0) continue;
    console.log(
      `${kind.padEnd(4)}  vocabulary ${String(tokenizer.vocabSize).padStart(6)}  tokens/caption ${(total / captions.length).toFixed(2)} (max ${max})  ` +
        `embedding@64 ${(tokenizer.vocabSize * 64).toLocaleString('en')} values (${((tokenizer.vocabSize * 64 * 4) / 2 ** 20).toFixed(2)} MiB)  ` +
        `tokenize ${cold.toFixed(1)} µs cold, ${warm.toFixed(1)} µs warm  split words: ${split.join(', ') || 'none'}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
