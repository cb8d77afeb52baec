import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DiffusionError } from '../src/errors.ts';
import type { Tokenizer } from '../src/text/tokenizer.ts';

/**
 * One contract suite for every Tokenizer (src/text/tokenizer.ts): special ids, padding, truncation, batch
 * independence, decode round trips, bad options. clip-tokenizer.test.ts runs it on the CLIP vocabulary; a
 * tokenizer learnt from captions runs it too, passing texts its vocabulary can spell back.
 */
export interface TokenizerSuiteOptions {
  /** Texts that decode(encode(text), skipSpecialTokens) must give back exactly. */
  roundTrip: string[];
  /** A word the vocabulary knows; repeated to build over-long prompts. */
  word: string;
}

function expectError(fn: () => unknown, code: DiffusionError['code']): void {
  assert.throws(fn, (error: unknown) => error instanceof DiffusionError && error.code === code);
}

export function tokenizerSuite(name: string, make: () => Tokenizer, options: TokenizerSuiteOptions): void {
  describe(`Tokenizer contract: ${name}`, () => {
    const tokenizer = make();
    const maxLength = Number.isFinite(tokenizer.modelMaxLength) ? tokenizer.modelMaxLength : 77;
    const longPrompt = Array.from({ length: 3 * maxLength }, () => options.word).join(' ');

    test('special ids are distinct from bos and inside the vocabulary', () => {
      for (const id of [tokenizer.bosTokenId, tokenizer.eosTokenId, tokenizer.padTokenId, tokenizer.unkTokenId]) {
        assert.ok(Number.isInteger(id) && id >= 0 && id < tokenizer.vocabSize, `id ${id} in [0, ${tokenizer.vocabSize})`);
      }
      assert.notEqual(tokenizer.bosTokenId, tokenizer.eosTokenId);
    });

    test('encode wraps the body in bos … eos; the empty prompt is just the two', () => {
      assert.deepEqual(tokenizer.encode(''), [tokenizer.bosTokenId, tokenizer.eosTokenId]);
      const text = options.roundTrip[0];
      const ids = tokenizer.encode(text);
      const body = tokenizer.encode(text, { addSpecialTokens: false });
      assert.ok(body.length > 0);
      assert.deepEqual(ids, [tokenizer.bosTokenId, ...body, tokenizer.eosTokenId]);
      for (const id of ids) assert.ok(Number.isInteger(id) && id >= 0 && id < tokenizer.vocabSize);
      assert.deepEqual(tokenizer.encode(text), ids, 'deterministic (and the BPE cache gives the same answer)');
    });

    test("call's default is padding to modelMaxLength with truncation, as diffusers calls it", () => {
      const texts = ['', options.roundTrip[0], longPrompt];
      const batch = tokenizer.call(texts);
      assert.equal(batch.inputIds.length, 3);
      texts.forEach((text, row) => {
        const ids = batch.inputIds[row];
        const mask = batch.attentionMask[row];
        assert.ok(ids instanceof Int32Array && mask instanceof Int32Array);
        assert.equal(ids.length, maxLength);
        assert.equal(mask.length, maxLength);
        const full = tokenizer.encode(text);
        const kept = Math.min(full.length, maxLength);
        assert.equal(mask.reduce((a, b) => a + b, 0), kept);
        assert.equal(ids[0], tokenizer.bosTokenId);
        assert.equal(ids[kept - 1], tokenizer.eosTokenId, 'eos stays last after truncation');
        assert.deepEqual([...ids.subarray(1, kept - 1)], full.slice(1, kept - 1), 'the body keeps its first tokens');
        for (let i = kept; i < maxLength; i++) {
          assert.equal(ids[i], tokenizer.padTokenId);
          assert.equal(mask[i], 0);
        }
      });
      assert.ok(tokenizer.encode(longPrompt).length > maxLength, 'the long prompt really is over-long');
    });

    test('maxLength, padding "longest" and "none", truncation off', () => {
      const short = options.roundTrip[0];
      const ten = tokenizer.call([short, longPrompt], { maxLength: 10 });
      assert.deepEqual(ten.inputIds.map((row) => row.length), [10, 10]);
      assert.equal(ten.inputIds[1][9], tokenizer.eosTokenId);

      const longest = tokenizer.call([short, `${short} ${short}`], { padding: 'longest' });
      const width = tokenizer.encode(`${short} ${short}`).length;
      assert.deepEqual(longest.inputIds.map((row) => row.length), [width, width]);
      assert.deepEqual([...longest.inputIds[0].subarray(0, tokenizer.encode(short).length)], tokenizer.encode(short));

      const none = tokenizer.call([short, longPrompt], { padding: 'none' });
      assert.deepEqual([...none.inputIds[0]], tokenizer.encode(short));
      assert.equal(none.inputIds[1].length, maxLength, 'truncation still applies');
      assert.ok(none.attentionMask.every((mask) => mask.every((bit) => bit === 1)));

      const untruncated = tokenizer.call([longPrompt], { truncation: false });
      assert.deepEqual([...untruncated.inputIds[0]], tokenizer.encode(longPrompt), 'a longer row is kept whole, as transformers does');
    });

    test('rows of a batch do not depend on each other', () => {
      const texts = [...options.roundTrip, longPrompt, ''];
      const batch = tokenizer.call(texts);
      texts.forEach((text, row) => assert.deepEqual(batch.inputIds[row], tokenizer.call([text]).inputIds[0]));
      assert.deepEqual(tokenizer.call([]), { inputIds: [], attentionMask: [] });
    });

    test('decode gives the text back where the vocabulary spells it', () => {
      for (const text of options.roundTrip) {
        assert.equal(tokenizer.decode(tokenizer.encode(text), { skipSpecialTokens: true }), text);
        assert.equal(tokenizer.decode(tokenizer.call([text]).inputIds[0], { skipSpecialTokens: true }), text, 'padding is skipped');
      }
      assert.equal(tokenizer.decode([], { skipSpecialTokens: true }), '');
    });

    test('bad options and ids fail with INVALID_ARGUMENT', () => {
      expectError(() => tokenizer.call(['a'], { maxLength: 1 }), 'INVALID_ARGUMENT');
      expectError(() => tokenizer.call(['a'], { maxLength: 7.5 }), 'INVALID_ARGUMENT');
      expectError(() => tokenizer.call(['a'], { padding: 'bogus' as never }), 'INVALID_ARGUMENT');
      expectError(() => tokenizer.call([42 as unknown as string]), 'INVALID_ARGUMENT');
      expectError(() => tokenizer.decode([tokenizer.vocabSize + 5]), 'INVALID_ARGUMENT');
    });
  });
}
