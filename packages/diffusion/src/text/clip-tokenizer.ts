/**
 * CLIP's byte-level BPE tokenizer, read from a diffusers `tokenizer/` folder (vocab.json, merges.txt,
 * tokenizer_config.json, special_tokens_map.json). Upstream counterpart: transformers' slow `CLIPTokenizer`
 * (tokenization_clip.py) without ftfy, with the added-token handling of `PreTrainedTokenizer.tokenize` and the
 * padding/truncation of `__call__`; it gives the same ids for every prompt of test/fixtures/sd/clip-tokenizer-golden.json.
 *
 * Why our own code and not an npm package: `@huggingface/tokenizers` (pure JS, no dependencies) needs a
 * tokenizer.json, which SD checkpoints do not ship, and reproduces the *fast* CLIP tokenizer, whose normaliser
 * differs from the slow one diffusers loads (no CJK spacing, no control-character removal): it gave the golden
 * ids for 64 of the 76 golden prompts (bench/diffusion-clip-tokenizer.ts), and ran slower (201 vs 31 µs per
 * cached prompt). `@huggingface/transformers` brings ONNX Runtime and sharp for the same fast tokenizer. This
 * file and its two helpers are ~600 lines, browser-safe (no Node imports: the folder reader is
 * clip-tokenizer-node.ts) and cache BPE per word.
 *
 * Pipeline (encode): split the text on added tokens (every special token is one: SD-2.x's pad "!" too) →
 * clean-up and CLIP's pattern (clip-text-cleanup.ts) → each piece's UTF-8 bytes as GPT-2's printable byte
 * characters (`bytes_to_unicode`) → BPE with "</w>" on the last symbol, merges applied lowest rank first →
 * vocabulary ids (missing → unk).
 */
import { DiffusionError } from '../errors.ts';
import { PYTHON_WHITESPACE, clipPreTokenize } from './clip-text-cleanup.ts';
import { type TokenizedBatch, type TokenizeOptions, type Tokenizer, buildBatch } from './tokenizer.ts';

/** Where each part came from, for error messages (the node loader passes full paths). */
export interface ClipTokenizerSources {
  vocab?: string;
  merges?: string;
  config?: string;
  specialTokensMap?: string;
}

/** The files' contents: text as read, or already-parsed JSON. Browser code fetches these and calls fromFiles. */
export interface ClipTokenizerFiles {
  /** vocab.json: token → id. */
  vocab: string | Record<string, number>;
  /** merges.txt: "#version" line, then one "left right" pair per line, highest priority first. */
  merges: string;
  /** tokenizer_config.json (optional: transformers' defaults then apply). */
  config?: string | Record<string, unknown>;
  /** special_tokens_map.json (optional; read only when the config has no added_tokens_decoder, as transformers does). */
  specialTokensMap?: string | Record<string, unknown>;
  sources?: ClipTokenizerSources;
}

/** transformers' AddedToken flags that change how text splits around the token. */
interface AddedToken {
  content: string;
  id: number;
  special: boolean;
  lstrip: boolean;
  rstrip: boolean;
  singleWord: boolean;
}

/** transformers reads merges.txt as `read().strip().split("\n")[1 : 49152 - 256 - 2 + 1]`: at most 48,894 merges. */
const MAX_MERGES = 49152 - 256 - 2;
/** The BPE cache forgets everything past this many words, so a stream of distinct words cannot grow it forever. */
const CACHE_LIMIT = 50_000;
const SPECIAL_KEYS = ['bos_token', 'eos_token', 'unk_token', 'pad_token'] as const;
const DEFAULT_SPECIALS: Record<(typeof SPECIAL_KEYS)[number], string> = {
  bos_token: '<|startoftext|>',
  eos_token: '<|endoftext|>',
  unk_token: '<|endoftext|>',
  pad_token: '<|endoftext|>', // transformers: "hack to enable padding"
};

/** GPT-2's `bytes_to_unicode`: printable bytes map to themselves, the other 68 to U+0100… in byte order. */
function byteCharacters(): { encoder: string[]; decoder: Map<string, number> } {
  const encoder = new Array<string>(256);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    encoder[b] = String.fromCharCode(printable ? b : 256 + next++);
  }
  const decoder = new Map(encoder.map((char, b) => [char, b]));
  return { encoder, decoder };
}

const BYTES = byteCharacters();
const UTF8 = new TextEncoder();

function corrupt(source: string, what: string): DiffusionError {
  return new DiffusionError('CHECKPOINT_CORRUPT', `${source}: ${what}`);
}

function parseJsonObject(value: string | Record<string, unknown>, source: string): Record<string, unknown> {
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value.replace(/^\ufeff/, ''));
    } catch (error) {
      throw corrupt(source, `not valid JSON (${(error as Error).message})`);
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw corrupt(source, 'expected a JSON object');
  return parsed as Record<string, unknown>;
}

/** A special-token entry: a string, or an AddedToken object ({content, lstrip, rstrip, single_word, …}). */
function tokenContent(value: unknown, source: string, key: string): { content: string; flags: Record<string, unknown> } | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return { content: value, flags: {} };
  if (typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return { content: (value as { content: string }).content, flags: value as Record<string, unknown> };
  }
  throw corrupt(source, `${key} must be a string or an object with a "content" string`);
}

/** Python's `str.strip()` (JavaScript's trim also strips U+FEFF, which Python keeps). */
const LEADING_WHITESPACE = new RegExp(`^(?:${PYTHON_WHITESPACE.source})`, 'u');
const TRAILING_WHITESPACE = new RegExp(`(?:${PYTHON_WHITESPACE.source})$`, 'u');
function pythonStrip(text: string): string {
  return text.replace(LEADING_WHITESPACE, '').replace(TRAILING_WHITESPACE, '');
}

export class ClipTokenizer implements Tokenizer {
  readonly bosTokenId: number;
  readonly eosTokenId: number;
  readonly padTokenId: number;
  readonly unkTokenId: number;
  readonly modelMaxLength: number;
  readonly vocabSize: number;
  /** tokenizer_config.json's clean_up_tokenization_spaces (transformers' default: false); decode applies it. */
  readonly cleanUpTokenizationSpaces: boolean;
  private readonly paddingSide: 'left' | 'right';
  private readonly truncationSide: 'left' | 'right';
  private readonly encoder: Map<string, number>;
  private readonly decoder: Map<number, string>;
  /** "left right" → rank (lower merges first). */
  private readonly ranks: Map<string, number>;
  private readonly added: Map<string, AddedToken>;
  private readonly addedById: Map<number, AddedToken>;
  /** Added tokens longest first, for the split that runs before clean-up. */
  private readonly addedByLength: AddedToken[];
  private readonly specialIds: Set<number>;
  private readonly cache = new Map<string, string[]>();

  private constructor(files: ClipTokenizerFiles) {
    const sources = {
      vocab: files.sources?.vocab ?? 'vocab.json',
      merges: files.sources?.merges ?? 'merges.txt',
      config: files.sources?.config ?? 'tokenizer_config.json',
      specialTokensMap: files.sources?.specialTokensMap ?? 'special_tokens_map.json',
    };
    const vocab = parseJsonObject(files.vocab, sources.vocab);
    this.encoder = new Map();
    this.decoder = new Map();
    let maxId = -1;
    for (const [token, id] of Object.entries(vocab)) {
      if (!Number.isInteger(id) || (id as number) < 0) throw corrupt(sources.vocab, `token ${JSON.stringify(token)} has id ${JSON.stringify(id)}, not a non-negative integer`);
      this.encoder.set(token, id as number);
      this.decoder.set(id as number, token);
      maxId = Math.max(maxId, id as number);
    }
    if (this.encoder.size === 0) throw corrupt(sources.vocab, 'empty vocabulary');

    if (typeof files.merges !== 'string') throw corrupt(sources.merges, 'expected the text of merges.txt');
    // Python reads text files with universal newlines: \r\n and a lone \r end lines too.
    const lines = files.merges.replace(/\r\n?/g, '\n').replace(/^\s+|\s+$/g, '').split('\n');
    if (!lines[0].startsWith('#version')) throw corrupt(sources.merges, `first line should be "#version: …", got ${JSON.stringify(lines[0].slice(0, 40))}`);
    this.ranks = new Map();
    const merges = lines.slice(1, 1 + MAX_MERGES);
    for (let rank = 0; rank < merges.length; rank++) {
      const parts = merges[rank].split(/\s+/).filter((part) => part !== '');
      if (parts.length === 0) continue;
      if (parts.length !== 2) throw corrupt(sources.merges, `line ${rank + 2}: expected two symbols, got ${JSON.stringify(merges[rank].slice(0, 60))}`);
      this.ranks.set(`${parts[0]} ${parts[1]}`, rank); // a repeated pair keeps its last rank, as Python's dict does
    }

    const config = files.config === undefined ? {} : parseJsonObject(files.config, sources.config);
    // transformers: special_tokens_map.json overrides the config's special tokens only in the legacy layout,
    // i.e. when tokenizer_config.json has no added_tokens_decoder.
    const specials: Record<string, unknown> = { ...DEFAULT_SPECIALS, ...config };
    const specialSource: Record<string, string> = {};
    const addedDecoder = config.added_tokens_decoder;
    if (files.specialTokensMap !== undefined && addedDecoder === undefined) {
      for (const [key, value] of Object.entries(parseJsonObject(files.specialTokensMap, sources.specialTokensMap))) {
        specials[key] = value;
        specialSource[key] = sources.specialTokensMap;
      }
    }
    this.added = new Map();
    const addToken = (entry: { content: string; flags: Record<string, unknown> }, id: number | undefined, special: boolean, source: string, key: string) => {
      const resolved = id ?? this.added.get(entry.content)?.id ?? this.encoder.get(entry.content);
      if (resolved === undefined) throw corrupt(source, `${key} ${JSON.stringify(entry.content)} is not in ${sources.vocab}`);
      const previous = this.added.get(entry.content);
      this.added.set(entry.content, {
        content: entry.content,
        id: resolved,
        special: special || (previous?.special ?? false),
        lstrip: entry.flags.lstrip === true,
        rstrip: entry.flags.rstrip === true,
        singleWord: entry.flags.single_word === true,
      });
    };
    if (addedDecoder !== undefined) {
      if (typeof addedDecoder !== 'object' || addedDecoder === null) throw corrupt(sources.config, 'added_tokens_decoder must be an object');
      for (const [idText, value] of Object.entries(addedDecoder)) {
        const id = Number(idText);
        const entry = tokenContent(value, sources.config, `added_tokens_decoder["${idText}"]`);
        if (!Number.isInteger(id) || id < 0 || entry === undefined) throw corrupt(sources.config, `added_tokens_decoder["${idText}"] is malformed`);
        addToken(entry, id, entry.flags.special === true, sources.config, 'added token');
      }
    }
    const specialContents: Record<string, string> = {};
    for (const key of SPECIAL_KEYS) {
      const source = specialSource[key] ?? sources.config;
      const entry = tokenContent(specials[key], source, key);
      if (entry === undefined) throw corrupt(source, `${key} is null; CLIP needs bos, eos, unk and pad tokens`);
      // Like PreTrainedTokenizer.__init__, every special token becomes an added token (with the vocabulary's id).
      addToken(entry, undefined, true, source, key);
      specialContents[key] = entry.content;
    }
    const additional = specials.additional_special_tokens;
    if (Array.isArray(additional)) {
      for (const value of additional) {
        const source = specialSource.additional_special_tokens ?? sources.config;
        const entry = tokenContent(value, source, 'additional_special_tokens');
        if (entry) addToken(entry, undefined, true, source, 'additional special token');
      }
    }
    this.addedById = new Map([...this.added.values()].map((token) => [token.id, token]));
    this.addedByLength = [...this.added.values()].filter((token) => token.content !== '').sort((a, b) => b.content.length - a.content.length);
    const idOf = (key: (typeof SPECIAL_KEYS)[number]) => this.added.get(specialContents[key])!.id;
    this.bosTokenId = idOf('bos_token');
    this.eosTokenId = idOf('eos_token');
    this.unkTokenId = idOf('unk_token');
    this.padTokenId = idOf('pad_token');
    this.specialIds = new Set([...this.added.values()].filter((token) => token.special).map((token) => token.id));
    for (const token of this.added.values()) maxId = Math.max(maxId, token.id);
    this.vocabSize = maxId + 1;

    const maxLength = config.model_max_length;
    if (maxLength !== undefined && (typeof maxLength !== 'number' || !(maxLength > 0))) throw corrupt(sources.config, `model_max_length ${JSON.stringify(maxLength)} is not a positive number`);
    // transformers stores "no limit" as int(1e30); anything past 2^31 is that.
    this.modelMaxLength = maxLength === undefined || maxLength > 2 ** 31 ? Infinity : maxLength;
    this.cleanUpTokenizationSpaces = config.clean_up_tokenization_spaces === true;
    const side = (key: string): 'left' | 'right' => {
      const value = config[key] ?? 'right';
      if (value !== 'left' && value !== 'right') throw corrupt(sources.config, `${key} ${JSON.stringify(value)} is not "left" or "right"`);
      return value;
    };
    this.paddingSide = side('padding_side');
    this.truncationSide = side('truncation_side');
  }

  /** A tokenizer from the files' contents (strings as read, or parsed JSON). Throws CHECKPOINT_CORRUPT naming the file. */
  static fromFiles(files: ClipTokenizerFiles): ClipTokenizer {
    return new ClipTokenizer(files);
  }

  /** Symbols of one pre-tokenised piece: BPE over its byte characters, "</w>" closing the last one. */
  private bpe(piece: string): string[] {
    const cached = this.cache.get(piece);
    if (cached) return cached;
    let word: string[] = [];
    for (const byte of UTF8.encode(piece)) word.push(BYTES.encoder[byte]);
    word[word.length - 1] += '</w>';
    while (word.length > 1) {
      let best = Infinity;
      let bestPair = '';
      for (let i = 0; i < word.length - 1; i++) {
        const pair = `${word[i]} ${word[i + 1]}`;
        const rank = this.ranks.get(pair);
        if (rank !== undefined && rank < best) {
          best = rank;
          bestPair = pair;
        }
      }
      if (best === Infinity) break;
      // Merge every non-overlapping occurrence, left to right (transformers' loop over word.index(first, i)).
      const [first, second] = bestPair.split(' ');
      const merged: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (word[i] === first && i < word.length - 1 && word[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else merged.push(word[i++]);
      }
      word = merged;
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(piece, word);
    return word;
  }

  /**
   * `PreTrainedTokenizer.tokenize`'s first step: cut the text at added tokens (longest match at the earliest
   * position), applying their lstrip/rstrip/single_word flags. Returns chunks, each an added token or plain text.
   */
  private splitOnAddedTokens(text: string): Array<{ text: string; token?: AddedToken }> {
    const chunks: Array<{ text: string; token?: AddedToken }> = [];
    let plainStart = 0;
    for (let i = 0; i < text.length; ) {
      const token = this.addedByLength.find((candidate) => text.startsWith(candidate.content, i));
      if (!token) {
        i++;
        continue;
      }
      if (i > plainStart) chunks.push({ text: text.slice(plainStart, i) });
      chunks.push({ text: token.content, token });
      i += token.content.length;
      plainStart = i;
    }
    if (plainStart < text.length) chunks.push({ text: text.slice(plainStart) });
    for (let i = 0; i < chunks.length; i++) {
      const token = chunks[i].token;
      if (!token) continue;
      const left = chunks[i - 1];
      const right = chunks[i + 1];
      if (token.rstrip && right && !right.token) right.text = right.text.replace(/^\s+/u, '');
      if (token.lstrip && left && !left.token) left.text = left.text.replace(/\s+$/u, '');
      if (token.singleWord && left && !left.token && left.text !== '' && !left.text.endsWith(' ')) {
        left.text += token.content;
        chunks[i] = { text: '' };
      } else if (token.singleWord && right && !right.token && right.text !== '' && !right.text.startsWith(' ')) {
        right.text = token.content + right.text;
        chunks[i] = { text: '' };
      }
    }
    return chunks.filter((chunk) => chunk.text !== '');
  }

  /** BPE symbols of `text` (transformers' `tokenize`): added tokens whole, the rest cleaned and BPE'd. */
  tokenize(text: string): string[] {
    const symbols: string[] = [];
    for (const chunk of this.splitOnAddedTokens(text)) {
      if (chunk.token) {
        symbols.push(chunk.token.content);
        continue;
      }
      for (const piece of clipPreTokenize(chunk.text)) {
        // CLIPTokenizer.bpe's cache starts with the two specials, so a piece spelling one maps to it unsplit.
        if (piece === '<|startoftext|>' || piece === '<|endoftext|>') symbols.push(piece);
        else for (const symbol of this.bpe(piece)) symbols.push(symbol);
      }
    }
    return symbols;
  }

  private idOf(symbol: string): number {
    return this.added.get(symbol)?.id ?? this.encoder.get(symbol) ?? this.unkTokenId;
  }

  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    const body = this.tokenize(text).map((symbol) => this.idOf(symbol));
    return options.addSpecialTokens === false ? body : [this.bosTokenId, ...body, this.eosTokenId];
  }

  call(prompts: readonly string[], options: TokenizeOptions = {}): TokenizedBatch {
    if (!Array.isArray(prompts)) throw new DiffusionError('INVALID_ARGUMENT', 'ClipTokenizer.call: prompts must be an array of strings');
    const bodies = prompts.map((prompt, index) => {
      if (typeof prompt !== 'string') throw new DiffusionError('INVALID_ARGUMENT', `ClipTokenizer.call: prompt ${index} is not a string`);
      return this.encode(prompt, { addSpecialTokens: false });
    });
    return buildBatch(
      bodies,
      {
        bosTokenId: this.bosTokenId,
        eosTokenId: this.eosTokenId,
        padTokenId: this.padTokenId,
        modelMaxLength: this.modelMaxLength,
        paddingSide: this.paddingSide,
        truncationSide: this.truncationSide,
      },
      options,
    );
  }

  /**
   * transformers' `decode`: ids → symbols; byte characters back to UTF-8 (invalid bytes → U+FFFD), "</w>" → " ",
   * stripped; added tokens that are not special stand apart, joined by spaces; then, where the config says
   * clean_up_tokenization_spaces, " ." → "." and the like.
   */
  decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    const parts: string[] = [];
    let bytes: number[] = [];
    let pending = false; // symbols waiting in `bytes` (transformers' current_sub_text)
    const flush = (final: boolean) => {
      if (!pending) return;
      const text = pythonStrip(new TextDecoder('utf-8', { ignoreBOM: true }).decode(new Uint8Array(bytes)).replaceAll('</w>', ' '));
      // Before a non-special added token an empty text is dropped; at the end it is kept (a trailing " ").
      if (final || text !== '') parts.push(text);
      bytes = [];
      pending = false;
    };
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (options.skipSpecialTokens && this.specialIds.has(id)) continue;
      const added = this.addedById.get(id);
      const symbol = added?.content ?? this.decoder.get(id);
      if (symbol === undefined) throw new DiffusionError('INVALID_ARGUMENT', `ClipTokenizer.decode: id ${id} is not in the vocabulary`);
      if (added && !added.special) {
        flush(false);
        parts.push(symbol);
        continue;
      }
      for (const char of symbol) {
        const byte = BYTES.decoder.get(char);
        if (byte === undefined) throw new DiffusionError('INVALID_ARGUMENT', `ClipTokenizer.decode: symbol ${JSON.stringify(symbol)} (id ${id}) has a character outside the byte alphabet`);
        bytes.push(byte);
      }
      pending = true;
    }
    flush(true);
    const text = parts.join(' ');
    if (!this.cleanUpTokenizationSpaces) return text;
    return text
      .replaceAll(' .', '.')
      .replaceAll(' ?', '?')
      .replaceAll(' !', '!')
      .replaceAll(' ,', ',')
      .replaceAll(" ' ", "'")
      .replaceAll(" n't", "n't")
      .replaceAll(" 'm", "'m")
      .replaceAll(" 's", "'s")
      .replaceAll(" 've", "'ve")
      .replaceAll(" 're", "'re");
  }
}
