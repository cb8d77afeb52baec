/**
 * A byte-level BPE vocabulary learnt from captions, in the files CLIP's tokenizer reads
 * (text/clip-tokenizer.ts): vocab.json, merges.txt ("#version: 0.2" then one merge per line, highest
 * priority first), tokenizer_config.json and special_tokens_map.json. The algorithm is Sennrich et
 * al. 2016 (learn_bpe): words are split as CLIP splits them (clipPreTokenize), spelt in GPT-2's
 * byte characters with "</w>" on the last symbol, and the most frequent adjacent pair is merged
 * until every word is one symbol (or `maxMerges`). Ties break on the pair's text, so the result is
 * deterministic. The vocabulary is laid out as OpenAI CLIP's is: the 256 byte characters, the same
 * with "</w>", the merges in order, then <|startoftext|> and <|endoftext|>.
 *
 * For the Shapes grammar (≈ 25 words) this gives ≈ 640 tokens instead of CLIP's 49,408: an
 * embedding table 77× smaller, and captions that fit a 16-token context.
 * Upstream counterpart: rsennrich/subword-nmt learn_bpe.py; OpenAI CLIP's bpe_simple_vocab_16e6 layout.
 */
import { DiffusionError } from '../../errors.ts';
import { clipPreTokenize } from '../../text/clip-text-cleanup.ts';

export interface LearntBpe {
  vocab: Record<string, number>;
  merges: Array<[string, string]>;
  /** The four files' text, by file name. */
  files: Record<string, string>;
}

function byteCharacters(): string[] {
  const encoder = new Array<string>(256);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    encoder[b] = String.fromCharCode(printable ? b : 256 + next++);
  }
  return encoder;
}

const BOS = '<|startoftext|>';
const EOS = '<|endoftext|>';

export function learnBpe(captions: Iterable<string>, options: { maxMerges?: number; modelMaxLength?: number } = {}): LearntBpe {
  const maxMerges = options.maxMerges ?? 10_000;
  const modelMaxLength = options.modelMaxLength ?? 16;
  const bytes = byteCharacters();
  const utf8 = new TextEncoder();
  const counts = new Map<string, number>();
  for (const caption of captions) {
    for (const word of clipPreTokenize(caption)) counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  if (counts.size === 0) throw new DiffusionError('INVALID_ARGUMENT', 'learnBpe: no words in the captions');
  // Each distinct word as a list of symbols (sorted for a deterministic walk).
  const words = [...counts.keys()].sort().map((word) => {
    const symbols = [...utf8.encode(word)].map((b) => bytes[b]);
    symbols[symbols.length - 1] += '</w>';
    return { symbols, count: counts.get(word) as number };
  });
  const merges: Array<[string, string]> = [];
  while (merges.length < maxMerges) {
    const pairs = new Map<string, number>();
    for (const w of words) for (let i = 0; i + 1 < w.symbols.length; i++) {
      const key = `${w.symbols[i]} ${w.symbols[i + 1]}`;
      pairs.set(key, (pairs.get(key) ?? 0) + w.count);
    }
    if (pairs.size === 0) break;
    let best = '';
    let bestCount = -1;
    for (const [key, count] of pairs) if (count > bestCount || (count === bestCount && key < best)) [best, bestCount] = [key, count];
    const [left, right] = best.split(' ') as [string, string];
    merges.push([left, right]);
    for (const w of words) {
      const out: string[] = [];
      for (let i = 0; i < w.symbols.length; i++) {
        if (i + 1 < w.symbols.length && w.symbols[i] === left && w.symbols[i + 1] === right) {
          out.push(left + right);
          i += 1;
        } else out.push(w.symbols[i]);
      }
      w.symbols = out;
    }
  }
  const vocab: Record<string, number> = {};
  let id = 0;
  const add = (token: string): void => {
    if (!(token in vocab)) vocab[token] = id++;
  };
  for (const c of bytes) add(c);
  for (const c of bytes) add(`${c}</w>`);
  for (const [l, r] of merges) add(l + r);
  add(BOS);
  add(EOS);
  const special = (content: string) => ({ content, lstrip: false, normalized: true, rstrip: false, single_word: false });
  const files: Record<string, string> = {
    'vocab.json': JSON.stringify(vocab) + '\n',
    'merges.txt': ['#version: 0.2', ...merges.map(([l, r]) => `${l} ${r}`)].join('\n') + '\n',
    'tokenizer_config.json':
      JSON.stringify(
        {
          add_prefix_space: false,
          bos_token: { __type: 'AddedToken', ...special(BOS) },
          clean_up_tokenization_spaces: true,
          do_lower_case: true,
          eos_token: { __type: 'AddedToken', ...special(EOS) },
          errors: 'replace',
          model_max_length: modelMaxLength,
          pad_token: EOS,
          tokenizer_class: 'CLIPTokenizer',
          unk_token: { __type: 'AddedToken', ...special(EOS) },
        },
        null,
        2,
      ) + '\n',
    'special_tokens_map.json': JSON.stringify({ bos_token: special(BOS), eos_token: special(EOS), pad_token: EOS, unk_token: special(EOS) }, null, 2) + '\n',
  };
  return { vocab, merges, files };
}
