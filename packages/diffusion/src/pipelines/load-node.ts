/**
 * Node-only: a Stable Diffusion pipeline from a path — a diffusers folder (model_index.json, …) or
 * an original SD-1.x single `.safetensors` file — what `StableDiffusionPipeline.from_pretrained` /
 * `from_single_file` do. Single files carry no tokenizer; the CLIP vocabulary that ships with this
 * package (assets/clip-tokenizer, OpenAI CLIP's, MIT) is used, as diffusers fetches
 * openai/clip-vit-large-patch14's.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openStableDiffusionCheckpoint } from '../checkpoint/diffusers-folder.ts';
import { DiffusionError } from '../errors.ts';
import type { TensorEngine } from '../tensor/engine.ts';
import { loadClipTokenizer } from '../text/clip-tokenizer-node.ts';
import { type PipelineLoadOptions, pipelineFromCheckpoint } from './from-checkpoint.ts';
import type { StableDiffusionPipeline } from './stable-diffusion.ts';

/** The CLIP tokenizer folder bundled with the package. */
export function bundledClipTokenizerDirectory(): string {
  return fileURLToPath(new URL('../../assets/clip-tokenizer/', import.meta.url));
}

export interface LoadStableDiffusionOptions extends PipelineLoadOptions {
  /** A tokenizer folder to use instead of the checkpoint's (or the bundled one for single files). */
  tokenizer?: string;
}

export function loadStableDiffusion(engine: TensorEngine, path: string, options: LoadStableDiffusionOptions = {}): StableDiffusionPipeline {
  const checkpoint = openStableDiffusionCheckpoint(path);
  try {
    const tokenizerDir = options.tokenizer ?? checkpoint.tokenizerDir ?? bundledClipTokenizerDirectory();
    if (!existsSync(tokenizerDir)) throw new DiffusionError('CHECKPOINT_MISSING', `${tokenizerDir}: no tokenizer folder (give one with --tokenizer)`);
    return pipelineFromCheckpoint(engine, checkpoint, loadClipTokenizer(tokenizerDir), options);
  } finally {
    checkpoint.close();
  }
}
