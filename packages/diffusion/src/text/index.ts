/** Text side of text-to-image: the Tokenizer seam and CLIP's BPE tokenizer (browser-safe). */
export * from './tokenizer.ts';
export * from './clip-tokenizer.ts';
export { clipBasicWords, clipPreTokenize } from './clip-text-cleanup.ts';
