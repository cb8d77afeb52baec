/**
 * ClipTokenizer against transformers' slow CLIPTokenizer (fixtures/sd/clip-tokenizer-golden.json, made by
 * make_text_golden.py on the real vocabulary in assets/clip-tokenizer/), the shared Tokenizer suite, and the
 * folder loader's errors.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DiffusionError } from '../src/errors.ts';
import { ClipTokenizer, type ClipTokenizerFiles } from '../src/text/clip-tokenizer.ts';
import { loadClipTokenizer } from '../src/text/clip-tokenizer-node.ts';
import { tokenizerSuite } from './tokenizer-cases.ts';

const TOKENIZER_DIR = join(import.meta.dirname, '..', 'assets', 'clip-tokenizer');
const FILE_NAMES = ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json'];

interface GoldenRow {
  text: string;
  tokens: string[];
  ids: number[];
  inputIds: number[];
  attentionMask: number[];
  decoded: string;
  decodedWithSpecial: string;
}
const golden = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'sd', 'clip-tokenizer-golden.json'), 'utf8')) as {
  modelMaxLength: number;
  bosTokenId: number;
  eosTokenId: number;
  padTokenId: number;
  prompts: GoldenRow[];
  padBang: { padTokenId: number; prompts: GoldenRow[] };
  random: Array<{ text: string; ids: number[] }>;
  batchLongest: { texts: string[]; inputIds: number[][]; attentionMask: number[][] };
};

const files = (): ClipTokenizerFiles => ({
  vocab: readFileSync(join(TOKENIZER_DIR, 'vocab.json'), 'utf8'),
  merges: readFileSync(join(TOKENIZER_DIR, 'merges.txt'), 'utf8'),
  config: readFileSync(join(TOKENIZER_DIR, 'tokenizer_config.json'), 'utf8'),
  specialTokensMap: readFileSync(join(TOKENIZER_DIR, 'special_tokens_map.json'), 'utf8'),
});
const clip = loadClipTokenizer(TOKENIZER_DIR);

tokenizerSuite('ClipTokenizer (CLIP vocabulary)', () => clip, {
  roundTrip: ['a photo of an astronaut riding a horse', 'cat', 'a red cube left of a blue sphere'],
  word: 'cat',
});

function checkRows(tokenizer: ClipTokenizer, rows: GoldenRow[]): void {
  for (const row of rows) {
    const label = JSON.stringify(row.text.length > 60 ? `${row.text.slice(0, 60)}…` : row.text);
    assert.deepEqual(tokenizer.tokenize(row.text), row.tokens, `${label}: BPE symbols`);
    assert.deepEqual(tokenizer.encode(row.text), row.ids, `${label}: ids`);
    const batch = tokenizer.call([row.text], { padding: 'max_length', truncation: true, maxLength: 77 });
    assert.deepEqual([...batch.inputIds[0]], row.inputIds, `${label}: padded ids`);
    assert.deepEqual([...batch.attentionMask[0]], row.attentionMask, `${label}: attention mask`);
    assert.equal(tokenizer.decode(row.ids, { skipSpecialTokens: true }), row.decoded, `${label}: decode`);
    assert.equal(tokenizer.decode(row.ids), row.decodedWithSpecial, `${label}: decode with special tokens`);
  }
}

describe("ClipTokenizer gives transformers' CLIPTokenizer ids", () => {
  test('special ids and model_max_length from the files', () => {
    assert.equal(clip.bosTokenId, golden.bosTokenId);
    assert.equal(clip.eosTokenId, golden.eosTokenId);
    assert.equal(clip.padTokenId, golden.padTokenId);
    assert.equal(clip.unkTokenId, 49407);
    assert.equal(clip.modelMaxLength, golden.modelMaxLength);
    assert.equal(clip.vocabSize, 49408);
  });

  test(`${golden.prompts.length} golden prompts: symbols, ids, padded ids, mask, decode`, () => {
    assert.ok(golden.prompts.length >= 60);
    checkRows(clip, golden.prompts);
  });

  test(`${golden.random.length} seeded random strings of delicate characters give the same ids`, () => {
    assert.ok(golden.random.length >= 300);
    for (const row of golden.random) assert.deepEqual(clip.encode(row.text), row.ids, JSON.stringify(row.text));
  });

  test('one batch of every golden prompt equals the rows', () => {
    const batch = clip.call(golden.prompts.map((row) => row.text));
    batch.inputIds.forEach((ids, i) => assert.deepEqual([...ids], golden.prompts[i].inputIds));
  });

  test('padding "longest" as transformers pads a batch with padding=True', () => {
    const batch = clip.call(golden.batchLongest.texts, { padding: 'longest' });
    assert.deepEqual(batch.inputIds.map((row) => [...row]), golden.batchLongest.inputIds);
    assert.deepEqual(batch.attentionMask.map((row) => [...row]), golden.batchLongest.attentionMask);
  });

  test('an SD-2.x-style pad token "!" pads with id 0 and splits "!" out of the text', () => {
    const config = JSON.parse(files().config as string) as Record<string, unknown>;
    const bang = ClipTokenizer.fromFiles({ ...files(), config: { ...config, pad_token: '!' }, specialTokensMap: undefined });
    assert.equal(bang.padTokenId, golden.padBang.padTokenId);
    checkRows(bang, golden.padBang.prompts);
  });

  test('fromFiles (no file system) equals the folder loader; parsed JSON is accepted too', () => {
    const fromText = ClipTokenizer.fromFiles(files());
    const parsed = files();
    const fromObjects = ClipTokenizer.fromFiles({
      ...parsed,
      vocab: JSON.parse(parsed.vocab as string) as Record<string, number>,
      config: JSON.parse(parsed.config as string) as Record<string, unknown>,
    });
    const texts = golden.prompts.slice(0, 20).map((row) => row.text);
    assert.deepEqual(fromText.call(texts), clip.call(texts));
    assert.deepEqual(fromObjects.call(texts), clip.call(texts));
  });

  test('without tokenizer_config.json: CLIP defaults, no length limit until maxLength is given', () => {
    const bare = ClipTokenizer.fromFiles({ vocab: files().vocab, merges: files().merges });
    assert.equal(bare.padTokenId, 49407);
    assert.equal(bare.modelMaxLength, Infinity);
    assert.throws(() => bare.call(['a cat']), (error: unknown) => error instanceof DiffusionError && error.code === 'INVALID_ARGUMENT' && /maxLength/.test(error.message));
    assert.deepEqual(bare.call(['a cat'], { maxLength: 77 }), clip.call(['a cat']));
    assert.deepEqual(bare.call(['a cat'], { padding: 'none', truncation: false }).inputIds[0], Int32Array.from([49406, 320, 2368, 49407]));
    assert.equal(bare.decode([49406, 320, 2368, 267, 49407], { skipSpecialTokens: true }), 'a cat ,', 'no clean-up unless the config asks');
    assert.equal(clip.decode([49406, 320, 2368, 267, 49407], { skipSpecialTokens: true }), 'a cat,');
  });

  test('padding_side and truncation_side "left" from the config', () => {
    const config = JSON.parse(files().config as string) as Record<string, unknown>;
    const left = ClipTokenizer.fromFiles({ ...files(), config: { ...config, padding_side: 'left', truncation_side: 'left' } });
    const [ids] = left.call(['a cat'], { maxLength: 6 }).inputIds;
    assert.deepEqual([...ids], [49407, 49407, 49406, 320, 2368, 49407]);
    const [cut] = left.call(['one two three four'], { maxLength: 4 }).inputIds;
    assert.deepEqual([...cut], [49406, ...clip.encode('three four', { addSpecialTokens: false }), 49407]);
  });
});

describe('loadClipTokenizer: folders and bad files', () => {
  const root = mkdtempSync(join(tmpdir(), 'clip-tokenizer-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  let count = 0;
  /** A copy of the tokenizer folder with `change` applied to one file (undefined: the file is removed). */
  function folderWith(name?: string, change?: (text: string) => string | undefined): string {
    const dir = join(root, `t${count++}`);
    mkdirSync(dir);
    for (const file of FILE_NAMES) {
      const text = readFileSync(join(TOKENIZER_DIR, file), 'utf8');
      const changed = file === name && change ? change(text) : text;
      if (changed !== undefined) writeFileSync(join(dir, file), changed);
    }
    return dir;
  }
  function expectFileError(dir: string, code: DiffusionError['code'], file: string, pattern?: RegExp): void {
    assert.throws(
      () => loadClipTokenizer(dir),
      (error: unknown) => {
        assert.ok(error instanceof DiffusionError, String(error));
        assert.equal(error.code, code, error.message);
        assert.ok(error.message.includes(join(dir, file)), `"${error.message}" names ${file}`);
        if (pattern) assert.match(error.message, pattern);
        return true;
      },
    );
  }

  test('a diffusers checkpoint folder: the tokenizer is read from tokenizer/', () => {
    const model = join(root, 'model');
    mkdirSync(join(model, 'tokenizer'), { recursive: true });
    for (const file of FILE_NAMES) copyFileSync(join(TOKENIZER_DIR, file), join(model, 'tokenizer', file));
    assert.deepEqual(loadClipTokenizer(model).call(['a cat']), clip.call(['a cat']));
  });

  test('missing folder, vocab.json or merges.txt: CHECKPOINT_MISSING naming it', () => {
    assert.throws(() => loadClipTokenizer(join(root, 'nowhere')), (error: unknown) => error instanceof DiffusionError && error.code === 'CHECKPOINT_MISSING' && error.message.includes('nowhere'));
    expectFileError(folderWith('vocab.json', () => undefined), 'CHECKPOINT_MISSING', 'vocab.json');
    expectFileError(folderWith('merges.txt', () => undefined), 'CHECKPOINT_MISSING', 'merges.txt');
  });

  test('optional files may be absent', () => {
    const dir = folderWith('special_tokens_map.json', () => undefined);
    assert.deepEqual(loadClipTokenizer(dir).call(['a cat']), clip.call(['a cat']));
  });

  test('corrupt files: CHECKPOINT_CORRUPT naming the file and the fault', () => {
    expectFileError(folderWith('vocab.json', (text) => text.slice(0, 1000)), 'CHECKPOINT_CORRUPT', 'vocab.json', /not valid JSON/);
    expectFileError(folderWith('vocab.json', () => '[1, 2]'), 'CHECKPOINT_CORRUPT', 'vocab.json', /JSON object/);
    expectFileError(folderWith('vocab.json', (text) => text.replace('"!":0', '"!":-1')), 'CHECKPOINT_CORRUPT', 'vocab.json', /"!"/);
    expectFileError(folderWith('merges.txt', (text) => text.replace('#version: 0.2\n', '')), 'CHECKPOINT_CORRUPT', 'merges.txt', /#version/);
    expectFileError(folderWith('merges.txt', (text) => text.replace('\nt h\n', '\nt h x\n')), 'CHECKPOINT_CORRUPT', 'merges.txt', /line 3/);
    expectFileError(folderWith('tokenizer_config.json', (text) => `${text}}`), 'CHECKPOINT_CORRUPT', 'tokenizer_config.json', /not valid JSON/);
    expectFileError(folderWith('tokenizer_config.json', (text) => text.replace('"model_max_length": 77', '"model_max_length": "77"')), 'CHECKPOINT_CORRUPT', 'tokenizer_config.json', /model_max_length/);
    expectFileError(folderWith('special_tokens_map.json', (text) => text.replace('"pad_token": "<|endoftext|>"', '"pad_token": "<pad>"')), 'CHECKPOINT_CORRUPT', 'special_tokens_map.json', /pad_token "<pad>" is not in/);
    expectFileError(folderWith('special_tokens_map.json', (text) => text.replace('"pad_token": "<|endoftext|>"', '"pad_token": 5')), 'CHECKPOINT_CORRUPT', 'special_tokens_map.json', /pad_token/);
    const noMap = (text: string) => text.replace('"pad_token": "<|endoftext|>"', '"pad_token": "<pad>"');
    const dir = folderWith('tokenizer_config.json', noMap);
    rmSync(join(dir, 'special_tokens_map.json'));
    expectFileError(dir, 'CHECKPOINT_CORRUPT', 'tokenizer_config.json', /pad_token "<pad>" is not in .*vocab\.json/);
  });

  test('special_tokens_map.json overrides the config (legacy layout without added_tokens_decoder)', () => {
    const dir = folderWith('special_tokens_map.json', (text) => text.replace('"pad_token": "<|endoftext|>"', '"pad_token": "!"'));
    assert.equal(loadClipTokenizer(dir).padTokenId, 0);
    const config = JSON.parse(files().config as string) as Record<string, unknown>;
    const withDecoder = ClipTokenizer.fromFiles({
      ...files(),
      config: { ...config, added_tokens_decoder: { 49406: { content: '<|startoftext|>', special: true }, 49407: { content: '<|endoftext|>', special: true } } },
      specialTokensMap: { pad_token: '!' },
    });
    assert.equal(withDecoder.padTokenId, 49407, 'with added_tokens_decoder, transformers ignores special_tokens_map.json');
  });
});
