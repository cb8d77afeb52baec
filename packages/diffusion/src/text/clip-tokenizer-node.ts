/**
 * Node-only: reads a CLIP tokenizer folder from disk into ClipTokenizer (clip-tokenizer.ts stays browser-safe).
 * Upstream counterpart: `CLIPTokenizer.from_pretrained(folder)` on a diffusers checkpoint's `tokenizer/`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DiffusionError } from '../errors.ts';
import { ClipTokenizer } from './clip-tokenizer.ts';

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new DiffusionError('CHECKPOINT_CORRUPT', `${path}: cannot read (${(error as Error).message})`);
  }
}

/**
 * Loads the tokenizer of `dir`: either a tokenizer folder (vocab.json, merges.txt, optional tokenizer_config.json
 * and special_tokens_map.json) or a diffusers checkpoint folder holding one in `tokenizer/`.
 * Throws CHECKPOINT_MISSING naming the missing file, CHECKPOINT_CORRUPT naming a malformed one.
 */
export function loadClipTokenizer(dir: string): ClipTokenizer {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DiffusionError('CHECKPOINT_MISSING', `${dir}: no such tokenizer folder`);
  const folder = !existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'tokenizer', 'vocab.json')) ? join(dir, 'tokenizer') : dir;
  const path = (name: string) => join(folder, name);
  for (const name of ['vocab.json', 'merges.txt']) {
    if (!existsSync(path(name))) throw new DiffusionError('CHECKPOINT_MISSING', `${path(name)}: missing (a CLIP tokenizer folder needs vocab.json and merges.txt)`);
  }
  const optional = (name: string) => (existsSync(path(name)) ? readText(path(name)) : undefined);
  return ClipTokenizer.fromFiles({
    vocab: readText(path('vocab.json')),
    merges: readText(path('merges.txt')),
    config: optional('tokenizer_config.json'),
    specialTokensMap: optional('special_tokens_map.json'),
    sources: {
      vocab: path('vocab.json'),
      merges: path('merges.txt'),
      config: path('tokenizer_config.json'),
      specialTokensMap: path('special_tokens_map.json'),
    },
  });
}
