/**
 * Speed of ClipTokenizer (packages/diffusion/src/text/clip-tokenizer.ts) on the real CLIP vocabulary:
 *   load   — ClipTokenizer.fromFiles on the files' text (JSON parse, 48,894 merges), best of 5
 *   warm   — encode of the 76 golden prompts, BPE cache filled (the steady state of a prompt loop)
 *   cold   — encode of never-seen words (fresh random letter strings: every word runs the BPE merge loop)
 *   call   — call([prompt, negative]) padded to 77, the pipeline's per-image cost
 * and, when `@huggingface/tokenizers` can be imported (it is not a dependency: `npm install --no-save` it to
 * compare, or point --hf-module at its dist/tokenizers.mjs), the same figures for it on a tokenizer.json given
 * with --hf-json (transformers' CLIPTokenizerFast.save_pretrained writes one), side by side with the ratio,
 * plus how many golden prompts each gets right.
 *
 * Run: npx tsx bench/diffusion-clip-tokenizer.ts [--hf-json DIR_WITH_tokenizer.json [--hf-module PATH]] [--json]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ClipTokenizer } from '@flashdiff/diffusion';

const argv = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const FIXTURES = join(import.meta.dirname, '..', 'packages', 'diffusion', 'test', 'fixtures');
const dir = join(import.meta.dirname, '..', 'packages', 'diffusion', 'assets', 'clip-tokenizer');
const read = (name: string) => readFileSync(join(dir, name), 'utf8');
const golden = JSON.parse(readFileSync(join(FIXTURES, 'sd', 'clip-tokenizer-golden.json'), 'utf8')) as { prompts: Array<{ text: string; ids: number[] }> };
const texts = golden.prompts.map((row) => row.text);

/** Seeded random lower-case words (xorshift), so "cold" always sees the same never-cached words. */
function randomWords(count: number, seed: number): string[] {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  return Array.from({ length: count }, () => Array.from({ length: 4 + Math.floor(next() * 8) }, () => String.fromCharCode(97 + Math.floor(next() * 26))).join(''));
}

interface Side {
  name: string;
  load: () => { encode: (text: string) => number[] };
}

function time(fn: () => void, minMs = 1000): number {
  fn();
  let runs = 0;
  const start = performance.now();
  while (performance.now() - start < minMs) {
    fn();
    runs++;
  }
  return (performance.now() - start) / runs;
}

function measure(side: Side) {
  let loadMs = Infinity;
  let tokenizer = side.load();
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    tokenizer = side.load();
    loadMs = Math.min(loadMs, performance.now() - start);
  }
  const correct = golden.prompts.filter((row) => JSON.stringify(tokenizer.encode(row.text)) === JSON.stringify(row.ids)).length;
  const warmUsPerPrompt = (time(() => texts.forEach((text) => tokenizer.encode(text))) * 1000) / texts.length;
  let seed = 1;
  const coldUsPerWord =
    (time(() => {
      const words = randomWords(200, seed++);
      tokenizer.encode(words.join(' '));
    }) *
      1000) /
    200;
  return { name: side.name, loadMs, correct, warmUsPerPrompt, coldUsPerWord };
}

const ours: Side = {
  name: 'ClipTokenizer',
  load: () => ClipTokenizer.fromFiles({ vocab: read('vocab.json'), merges: read('merges.txt'), config: read('tokenizer_config.json'), specialTokensMap: read('special_tokens_map.json') }),
};
const sides = [ours];
const hfJson = option('hf-json');
if (hfJson) {
  const module = option('hf-module') ?? '@huggingface/tokenizers';
  const specifier = module.startsWith('/') ? pathToFileURL(module).href : module;
  try {
    const hf = (await import(specifier)) as { Tokenizer: new (json: unknown, config: unknown) => { encode: (text: string) => { ids: number[] } } };
    const json = readFileSync(join(hfJson, 'tokenizer.json'), 'utf8');
    const config = readFileSync(join(hfJson, 'tokenizer_config.json'), 'utf8');
    sides.push({
      name: '@huggingface/tokenizers',
      load: () => {
        const tokenizer = new hf.Tokenizer(JSON.parse(json), JSON.parse(config));
        return { encode: (text: string) => tokenizer.encode(text).ids };
      },
    });
  } catch (error) {
    console.error(`@huggingface/tokenizers not importable (${(error as Error).message}); measuring ClipTokenizer only`);
  }
}

const results = sides.map(measure);
const clip = ours.load() as ClipTokenizer;
const callUs = time(() => clip.call(['a photo of an astronaut riding a horse on mars', 'blurry, low quality'])) * 1000;
if (argv.includes('--json')) {
  console.log(JSON.stringify({ results, callUs }));
} else {
  console.log(`golden prompts: ${texts.length}; call([prompt, negative]) padded to 77: ${callUs.toFixed(1)} µs`);
  for (const r of results) {
    console.log(
      `${r.name.padEnd(26)} load ${r.loadMs.toFixed(1).padStart(7)} ms   warm ${r.warmUsPerPrompt.toFixed(1).padStart(6)} µs/prompt   cold ${r.coldUsPerWord.toFixed(2).padStart(6)} µs/word   golden ids ${r.correct}/${texts.length}`,
    );
  }
  if (results.length === 2) {
    const [a, b] = results;
    console.log(`ratio ours/theirs: load ${(a.loadMs / b.loadMs).toFixed(2)}, warm ${(a.warmUsPerPrompt / b.warmUsPerPrompt).toFixed(2)}, cold ${(a.coldUsPerWord / b.coldUsPerWord).toFixed(2)}`);
  }
}
