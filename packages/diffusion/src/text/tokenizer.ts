/**
 * The tokenizer seam: prompt text → token ids for a text encoder, and back. Upstream counterpart:
 * transformers' `PreTrainedTokenizer.__call__` / `decode` as diffusers' pipelines use them
 * (`tokenizer(prompt, padding="max_length", max_length=tokenizer.model_max_length, truncation=True)`).
 *
 * Implementations: ClipTokenizer (./clip-tokenizer.ts, the CLIP BPE vocabulary of SD-1.x); a tokenizer learnt
 * from captions plugs in here too. test/tokenizer-cases.ts is the suite every implementation passes.
 * Browser-safe: no Node imports.
 */
import { DiffusionError } from '../errors.ts';

/**
 * How rows of a batch are padded: 'max_length' to `maxLength` (SD's text encoders always see 77 positions),
 * 'longest' to the longest row of the batch, 'none' not at all.
 */
export type PaddingStrategy = 'max_length' | 'longest' | 'none';

export interface TokenizeOptions {
  /** Default 'max_length' (what diffusers passes), not transformers' default of no padding. */
  padding?: PaddingStrategy;
  /**
   * Default true: a row longer than `maxLength` keeps its first `maxLength − 2` tokens (or its last, where the
   * tokenizer's config says truncation_side "left") between bos and eos, so eos stays last.
   */
  truncation?: boolean;
  /** Default the tokenizer's `modelMaxLength` (77 for CLIP). */
  maxLength?: number;
}

export interface TokenizedBatch {
  /** One row per prompt: bos, tokens, eos, then pad ids (or pad ids first where the config pads on the left). */
  inputIds: Int32Array[];
  /** 1 where inputIds holds a token of the prompt (bos and eos included), 0 on padding. */
  attentionMask: Int32Array[];
}

export interface Tokenizer {
  /** Id put before every prompt (CLIP: `<|startoftext|>` = 49406). */
  readonly bosTokenId: number;
  /** Id put after every prompt (CLIP: `<|endoftext|>` = 49407). */
  readonly eosTokenId: number;
  /** Id that fills rows up to their length (SD-1.x: 49407, as eos; SD-2.x's files say "!" = 0). */
  readonly padTokenId: number;
  /** Id given to a token missing from the vocabulary. */
  readonly unkTokenId: number;
  /** Longest row the text encoder takes, specials included (CLIP: 77); Infinity where the files set no limit. */
  readonly modelMaxLength: number;
  /** 1 + the largest id the tokenizer can produce: the embedding table a text encoder needs. */
  readonly vocabSize: number;
  /** The ids of one prompt with bos/eos (unless `addSpecialTokens` is false), no padding, no truncation. */
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  /** Tokenizes a batch of prompts as diffusers does: padding 'max_length' to 77 and truncation by default. */
  call(prompts: readonly string[], options?: TokenizeOptions): TokenizedBatch;
  /** Text of a row of ids; `skipSpecialTokens` drops bos/eos/pad/unk ids. Throws INVALID_ARGUMENT on an unknown id. */
  decode(ids: ArrayLike<number>, options?: { skipSpecialTokens?: boolean }): string;
}

export interface BatchLayout {
  bosTokenId: number;
  eosTokenId: number;
  padTokenId: number;
  modelMaxLength: number;
  paddingSide: 'left' | 'right';
  truncationSide: 'left' | 'right';
}

/**
 * Builds a batch from the prompts' token ids (without bos/eos) the way transformers' `_pad` and
 * `truncate_sequences` do for one sequence with two special tokens: truncate the body to maxLength − 2, wrap it
 * in bos … eos, then pad. Shared by every Tokenizer so that they agree on this part exactly.
 */
export function buildBatch(bodies: readonly (readonly number[])[], layout: BatchLayout, options: TokenizeOptions = {}): TokenizedBatch {
  const padding = options.padding ?? 'max_length';
  if (padding !== 'max_length' && padding !== 'longest' && padding !== 'none') {
    throw new DiffusionError('INVALID_ARGUMENT', `tokenizer: unknown padding ${JSON.stringify(padding)} (expected max_length, longest or none)`);
  }
  const truncation = options.truncation ?? true;
  const maxLength = options.maxLength ?? layout.modelMaxLength;
  const needsLength = padding === 'max_length' || truncation;
  if (needsLength && (!Number.isInteger(maxLength) || maxLength < 2)) {
    throw new DiffusionError(
      'INVALID_ARGUMENT',
      `tokenizer: maxLength must be an integer ≥ 2 (room for bos and eos) for padding 'max_length' or truncation, got ${maxLength}` +
        (options.maxLength === undefined ? ' (the tokenizer files set no model_max_length: pass maxLength)' : ''),
    );
  }
  const rows = bodies.map((body) => {
    let kept = body;
    if (truncation && body.length > maxLength - 2) {
      kept = layout.truncationSide === 'left' ? body.slice(body.length - (maxLength - 2)) : body.slice(0, maxLength - 2);
    }
    return [layout.bosTokenId, ...kept, layout.eosTokenId];
  });
  let target = 0;
  if (padding === 'max_length') target = maxLength;
  else if (padding === 'longest') for (const row of rows) target = Math.max(target, row.length);
  const inputIds: Int32Array[] = [];
  const attentionMask: Int32Array[] = [];
  for (const row of rows) {
    const length = Math.max(target, row.length);
    const ids = new Int32Array(length).fill(layout.padTokenId);
    const mask = new Int32Array(length);
    const start = layout.paddingSide === 'left' ? length - row.length : 0;
    ids.set(row, start);
    mask.fill(1, start, start + row.length);
    inputIds.push(ids);
    attentionMask.push(mask);
  }
  return { inputIds, attentionMask };
}
