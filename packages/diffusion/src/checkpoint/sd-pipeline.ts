/**
 * What a Stable Diffusion checkpoint gives the models, whichever layout it came in (a diffusers
 * folder, diffusers-folder.ts; an original single file, single-file.ts), and SD-1.5's published
 * configs (runwayml/stable-diffusion-v1-5's model_index.json, unet/, vae/, text_encoder/ and
 * scheduler/ config files; diffusers' SCHEDULER_DEFAULT_CONFIG for single files), in diffusers' and
 * transformers' config.json format. Browser-safe.
 */
import type { TensorSource } from './tensor-source.ts';

export const SD_MODEL_COMPONENTS = ['text_encoder', 'unet', 'vae'] as const;
export type SdModelComponent = (typeof SD_MODEL_COMPONENTS)[number];

/** A model's config.json (parsed) and its weights under diffusers/transformers names. */
export interface ComponentWeights {
  /** `_class_name` (diffusers) or `architectures[0]` (transformers), e.g. "UNet2DConditionModel". */
  className: string;
  config: Record<string, unknown>;
  /** Where the config came from, for messages (a file, or "<file> (inferred)"). */
  configSource: string;
  weights: TensorSource;
}

export interface StableDiffusionCheckpoint {
  /** The folder or file given. */
  source: string;
  layout: 'diffusers' | 'single-file';
  textEncoder: ComponentWeights;
  unet: ComponentWeights;
  vae: ComponentWeights;
  scheduler: { className: string; config: Record<string, unknown>; configSource: string };
  /** The tokenizer folder (vocab.json, merges.txt, …): a diffusers folder's `tokenizer/`; single files have none. */
  tokenizerDir?: string;
  /** Tensors of a single file that belong to no model (EMA copies, schedule buffers, position_ids). */
  ignored: string[];
  close(): void;
}

/** Pipelines whose components (CLIP text encoder, UNet2DConditionModel, AutoencoderKL) this loader reads. */
export const SUPPORTED_PIPELINES = ['StableDiffusionPipeline', 'StableDiffusionImg2ImgPipeline'] as const;

export const EXPECTED_COMPONENT_CLASSES: Record<string, readonly string[]> = {
  text_encoder: ['CLIPTextModel'],
  tokenizer: ['CLIPTokenizer', 'CLIPTokenizerFast'],
  unet: ['UNet2DConditionModel'],
  vae: ['AutoencoderKL'],
};

export const SD15_UNET_CONFIG = {
  _class_name: 'UNet2DConditionModel',
  _diffusers_version: '0.27.2',
  act_fn: 'silu',
  attention_head_dim: 8,
  block_out_channels: [320, 640, 1280, 1280],
  center_input_sample: false,
  cross_attention_dim: 768,
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  downsample_padding: 1,
  flip_sin_to_cos: true,
  freq_shift: 0,
  in_channels: 4,
  layers_per_block: 2,
  mid_block_scale_factor: 1,
  norm_eps: 1e-5,
  norm_num_groups: 32,
  out_channels: 4,
  sample_size: 64,
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  use_linear_projection: false,
};

export const SD15_VAE_CONFIG = {
  _class_name: 'AutoencoderKL',
  _diffusers_version: '0.27.2',
  act_fn: 'silu',
  block_out_channels: [128, 256, 512, 512],
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
  in_channels: 3,
  latent_channels: 4,
  layers_per_block: 2,
  norm_num_groups: 32,
  out_channels: 3,
  sample_size: 512,
  scaling_factor: 0.18215,
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
};

export const SD15_TEXT_ENCODER_CONFIG = {
  architectures: ['CLIPTextModel'],
  attention_dropout: 0.0,
  bos_token_id: 0,
  dropout: 0.0,
  eos_token_id: 2,
  hidden_act: 'quick_gelu',
  hidden_size: 768,
  initializer_factor: 1.0,
  initializer_range: 0.02,
  intermediate_size: 3072,
  layer_norm_eps: 1e-5,
  max_position_embeddings: 77,
  model_type: 'clip_text_model',
  num_attention_heads: 12,
  num_hidden_layers: 12,
  pad_token_id: 1,
  projection_dim: 768,
  torch_dtype: 'float32',
  transformers_version: '4.32.0',
  vocab_size: 49408,
};

/** PNDM with SD's training schedule (scaled-linear β 0.00085 → 0.012 over 1000 steps). */
export const SD15_SCHEDULER_CONFIG = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.27.2',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  prediction_type: 'epsilon',
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  timestep_spacing: 'leading',
  trained_betas: null,
};

/** A fresh deep copy (callers may edit the result). */
export function copyConfig<T>(config: T): T {
  return JSON.parse(JSON.stringify(config)) as T;
}
