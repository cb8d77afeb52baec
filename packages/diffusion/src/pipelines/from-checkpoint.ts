/**
 * A StableDiffusionPipeline from a checkpoint's components, whatever layout they were read from
 * (checkpoint/sd-pipeline.ts: a diffusers folder or an original single file) — what diffusers'
 * `StableDiffusionPipeline.from_pretrained` / `from_single_file` do after reading the files.
 * Browser-safe: the caller opens the files (pipelines/load-node.ts in Node).
 */
import { DiffusionError } from '../errors.ts';
import type { StableDiffusionCheckpoint } from '../checkpoint/sd-pipeline.ts';
import { AutoencoderKL, readAutoencoderConfig } from '../models/sd/autoencoder-kl.ts';
import { ClipTextModel, readClipTextConfig } from '../models/sd/clip-text-model.ts';
import { UNet2DConditionModel, readUNetConfig } from '../models/sd/unet-2d-condition.ts';
import { loadModelWeights } from '../models/sd/weights.ts';
import { Random } from '../rng.ts';
import type { LatentSchedulerKind } from '../schedulers/latent-config.ts';
import { latentSchedulerFromDiffusers } from '../schedulers/sampling-run.ts';
import type { TensorEngine } from '../tensor/engine.ts';
import type { Tokenizer } from '../text/tokenizer.ts';
import { StableDiffusionPipeline } from './stable-diffusion.ts';

export interface PipelineLoadOptions {
  /** Sample with another algorithm on the checkpoint's noise schedule (diffusers' from_config). */
  scheduler?: LatentSchedulerKind;
  /** Progress while tensors load: (component, done, total). */
  onTensor?: (component: string, done: number, total: number) => void;
}

export function pipelineFromCheckpoint(engine: TensorEngine, checkpoint: StableDiffusionCheckpoint, tokenizer: Tokenizer, options: PipelineLoadOptions = {}): StableDiffusionPipeline {
  // Parameters start at zero (no random draws) and are overwritten tensor by tensor, so the weights
  // exist once in memory plus the one tensor being converted.
  const random = new Random(0);
  const zeros = { initialise: false };
  const textEncoder = new ClipTextModel(engine, random, readClipTextConfig(checkpoint.textEncoder.config, checkpoint.textEncoder.configSource), zeros);
  const unet = new UNet2DConditionModel(engine, random, readUNetConfig(checkpoint.unet.config, checkpoint.unet.configSource), zeros);
  const vae = new AutoencoderKL(engine, random, readAutoencoderConfig(checkpoint.vae.config, checkpoint.vae.configSource), zeros);
  const models = [textEncoder, unet, vae];
  try {
    if (tokenizer.vocabSize > textEncoder.config.vocab_size) {
      throw new DiffusionError('INVALID_CONFIG', `${checkpoint.source}: the tokenizer has ${tokenizer.vocabSize} tokens, the text encoder's vocab_size is ${textEncoder.config.vocab_size}`);
    }
    if (textEncoder.config.hidden_size !== unet.config.cross_attention_dim) {
      throw new DiffusionError('INVALID_CONFIG', `${checkpoint.source}: the text encoder's hidden_size ${textEncoder.config.hidden_size} differs from the UNet's cross_attention_dim ${unet.config.cross_attention_dim}`);
    }
    if (vae.config.latent_channels !== unet.config.in_channels) {
      throw new DiffusionError('INVALID_CONFIG', `${checkpoint.source}: the VAE's latent_channels ${vae.config.latent_channels} differ from the UNet's in_channels ${unet.config.in_channels}`);
    }
    for (const [name, model, part] of [
      ['text_encoder', textEncoder, checkpoint.textEncoder],
      ['unet', unet, checkpoint.unet],
      ['vae', vae, checkpoint.vae],
    ] as const) {
      loadModelWeights(model, part.weights, { onTensor: options.onTensor ? (done, total) => options.onTensor?.(name, done, total) : undefined });
    }
    const scheduler = latentSchedulerFromDiffusers(checkpoint.scheduler.config, options.scheduler);
    return new StableDiffusionPipeline(engine, { tokenizer, textEncoder, unet, vae, scheduler });
  } catch (err) {
    for (const m of models) m.params.dispose();
    throw err;
  }
}
