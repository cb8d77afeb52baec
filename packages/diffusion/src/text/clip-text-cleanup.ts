/**
 * CLIP's text clean-up and pre-tokenisation, before byte-level BPE. Upstream counterpart: transformers'
 * `CLIPTokenizer._tokenize` when ftfy is not installed, which runs `BasicTokenizer(strip_accents=False,
 * do_split_on_punc=False).tokenize` (tokenization_clip.py) and then CLIP's pattern with `re.IGNORECASE`:
 *
 *  1. drop NUL, U+FFFD and every character of general category C* except \t \n \r; turn \t \n \r and Zs into " "
 *     (`_clean_text`);
 *  2. put spaces around CJK ideographs (`_tokenize_chinese_chars`: the ranges below), so each becomes a word;
 *  3. NFC; split on Python's `str.split()` whitespace; lower-case each word (`str.lower()`: full mappings,
 *     final sigma); no accent stripping (strip_accents=False keeps "é"), no punctuation splitting;
 *  4. join the words with one space and cut them with CLIP's pattern
 *     `<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`.
 *
 * The pattern runs case-insensitively in Python (the `regex` module, simple case folding). Rather than JavaScript's
 * /i, whose folding of the negated class differs, the literals spell their case variants out: "'ſ" (long s folds
 * to s) is one piece in Python and here. U+0345 COMBINING GREEK YPOGEGRAMMENI folds to a letter, so Python's
 * `[^\s\p{L}\p{N}]` refuses it while `[\p{L}]` does not take it either: Python drops it, and so does this code.
 * Those are the only differences case-insensitivity makes (checked over every code point with Python's regex).
 *
 * Character tables are the JavaScript engine's (Node 20: Unicode 15.1 and later) where Python 3.11's unicodedata
 * is Unicode 14.0: a character assigned after 14.0 (new emoji, CJK extension I) is category Cn to Python, which
 * drops it, and kept here. Browser-safe: no Node imports.
 */

/** `_is_chinese_char`: the CJK Unified Ideographs blocks BERT's tokenizer spaces out (not kana, not Hangul). */
function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

const OTHER = /^\p{C}$/u; // Cc Cf Cs Co Cn: `_is_control` (lone surrogates come out of for…of as Cs)
const SPACE_SEPARATOR = /^\p{Zs}$/u;
/** Python's `str.isspace()` set: what `str.split()` and `str.strip()` with no argument cut on. */
// eslint-disable-next-line no-control-regex -- Python counts the C0 separators \x1c–\x1f as whitespace
export const PYTHON_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;

/** Steps 1–3: the words BasicTokenizer returns, lower-cased. */
export function clipBasicWords(text: string): string[] {
  let cleaned = '';
  for (const char of text) {
    const cp = char.codePointAt(0)!;
    if (char === ' ' || char === '\t' || char === '\n' || char === '\r' || SPACE_SEPARATOR.test(char)) cleaned += ' ';
    else if (cp === 0 || cp === 0xfffd || OTHER.test(char)) continue;
    else if (isChineseChar(cp)) cleaned += ` ${char} `;
    else cleaned += char;
  }
  const words: string[] = [];
  for (const word of cleaned.normalize('NFC').split(PYTHON_WHITESPACE)) {
    if (word === '') continue;
    // Lower-casing cannot create whitespace, so BasicTokenizer's second whitespace split changes nothing.
    words.push(word.toLowerCase());
  }
  return words;
}

/** A literal matched case-insensitively as Python's regex does: each letter with its simple case folds. */
function foldedLiteral(literal: string): string {
  let out = '';
  for (const char of literal) {
    if (/[a-z]/.test(char)) {
      const extra = char === 's' ? '\u017f' : char === 'k' ? '\u212a' : '';
      out += `[${char}${char.toUpperCase()}${extra}]`;
    } else out += char.replace(/[|\\^$.*+?()[\]{}]/g, '\\$&');
  }
  return out;
}

/** CLIP's pattern (step 4), case variants spelt out; U+0345 excluded from the punctuation class (see above). */
const CLIP_PATTERN = new RegExp(
  [
    ...['<|startoftext|>', '<|endoftext|>', "'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].map(foldedLiteral),
    '[\\p{L}]+',
    '[\\p{N}]',
    '[^\\s\\p{L}\\p{N}\\u0345]+',
  ].join('|'),
  'gu',
);

/** Steps 1–4: the pieces of `text` that byte-level BPE encodes one by one. */
export function clipPreTokenize(text: string): string[] {
  const joined = clipBasicWords(text).join(' ');
  return joined.match(CLIP_PATTERN) ?? [];
}
