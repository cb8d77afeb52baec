/**
 * UNet2DConditionModel — diffusers' models/unets/unet_2d_condition.py, configured exactly by its
 * `unet/config.json`: the noise predictor ε_θ(z_t, t, c) of latent diffusion (Rombach et al. 2022,
 * eq. 2), a UNet over the latent whose spatial transformers cross-attend to the text embeddings c.
 *
 *   t → sinusoidal embedding (flip_sin_to_cos, freq_shift) → Linear → SiLU → Linear = temb
 *   z → conv_in → down blocks (skips) → mid block → up blocks (skips back) → GroupNorm → SiLU → conv_out
 *
 * Tensors are NHWC at the seam; the state-dict names are diffusers' own, so a diffusers file loads
 * by name (weights.ts) and a model trained here saves to one.
 *
 * Config note, kept from diffusers for compatibility: SD-1.x's `attention_head_dim: 8` is really the
 * number of heads (diffusers: `num_attention_heads = num_attention_heads or attention_head_dim`);
 * each head's width is then channels / heads.
 */
import { DiffusionError } from '../../errors.ts';
import type { Random } from '../../rng.ts';
import type { Tensor, TensorEngine } from '../../tensor/engine.ts';
import { ParameterStore } from '../parameters.ts';
import {
  type ConfigSpec,
  boolean,
  intList,
  intOrIntList,
  onlyDefault,
  oneOf,
  perBlock,
  positiveInt,
  positiveNumber,
  readConfig,
  stringList,
} from './config.ts';
import { Conv2d, GroupNorm, Linear, ModuleBuilder, type ModelInitOptions } from './modules.ts';
import { DOWN_BLOCK_TYPES, DownBlock2D, MID_BLOCK_TYPES, UNetMidBlock2DCrossAttn, UP_BLOCK_TYPES, UpBlock2D } from './unet-2d-blocks.ts';

export interface UNet2DConditionConfig {
  sample_size: number;
  in_channels: number;
  out_channels: number;
  center_input_sample: boolean;
  flip_sin_to_cos: boolean;
  freq_shift: number;
  down_block_types: string[];
  mid_block_type: string;
  up_block_types: string[];
  block_out_channels: number[];
  layers_per_block: number | number[];
  downsample_padding: number;
  mid_block_scale_factor: number;
  act_fn: string;
  norm_num_groups: number;
  norm_eps: number;
  cross_attention_dim: number;
  transformer_layers_per_block: number | number[];
  attention_head_dim: number | number[];
  num_attention_heads: number | number[] | null;
  use_linear_projection: boolean;
  upcast_attention: boolean;
  conv_in_kernel: number;
  conv_out_kernel: number;
  [key: string]: unknown;
}

/** Every key of diffusers 0.27's UNet2DConditionModel; those this implementation does not support are pinned to their default. */
const UNET_SPEC: ConfigSpec = {
  sample_size: positiveInt(64),
  in_channels: positiveInt(4),
  out_channels: positiveInt(4),
  center_input_sample: boolean(false),
  flip_sin_to_cos: boolean(true),
  freq_shift: { default: 0, check: (v) => typeof v === 'number' && Number.isFinite(v), expect: 'a number' },
  down_block_types: stringList(['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D']),
  mid_block_type: { default: 'UNetMidBlock2DCrossAttn', check: (v) => v === null || typeof v === 'string', expect: 'a block type name' },
  up_block_types: stringList(['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D']),
  only_cross_attention: onlyDefault(false),
  block_out_channels: intList([320, 640, 1280, 1280]),
  layers_per_block: intOrIntList(2),
  downsample_padding: oneOf(1, [0, 1]),
  mid_block_scale_factor: onlyDefault(1),
  dropout: { default: 0, check: (v) => typeof v === 'number' && v >= 0 && v < 1, expect: 'a number in [0, 1) (dropout is not applied: inference and the trainers run without it)' },
  act_fn: onlyDefault('silu'),
  norm_num_groups: positiveInt(32),
  norm_eps: positiveNumber(1e-5),
  cross_attention_dim: positiveInt(768),
  transformer_layers_per_block: intOrIntList(1),
  reverse_transformer_layers_per_block: onlyDefault(null),
  encoder_hid_dim: onlyDefault(null),
  encoder_hid_dim_type: onlyDefault(null),
  attention_head_dim: intOrIntList(8),
  num_attention_heads: { default: null, check: (v) => v === null || Number.isSafeInteger(v) || Array.isArray(v), expect: 'null, an integer or a list' },
  dual_cross_attention: onlyDefault(false),
  use_linear_projection: boolean(false),
  class_embed_type: onlyDefault(null),
  addition_embed_type: onlyDefault(null),
  addition_time_embed_dim: onlyDefault(null),
  num_class_embeds: onlyDefault(null),
  // Upcasting the attention softmax to float32 changes nothing here: everything runs in float32.
  upcast_attention: boolean(false),
  resnet_time_scale_shift: onlyDefault('default'),
  resnet_skip_time_act: onlyDefault(false),
  resnet_out_scale_factor: onlyDefault(1),
  time_embedding_type: onlyDefault('positional'),
  time_embedding_dim: onlyDefault(null),
  time_embedding_act_fn: onlyDefault(null),
  timestep_post_act: onlyDefault(null),
  time_cond_proj_dim: onlyDefault(null),
  conv_in_kernel: oneOf(3, [1, 3, 5, 7]),
  conv_out_kernel: oneOf(3, [1, 3, 5, 7]),
  projection_class_embeddings_input_dim: onlyDefault(null),
  attention_type: onlyDefault('default'),
  class_embeddings_concat: onlyDefault(false),
  mid_block_only_cross_attention: onlyDefault(null),
  cross_attention_norm: onlyDefault(null),
  addition_embed_type_num_heads: { default: 64 },
};

/** Parse and check a diffusers `unet/config.json` object; the result carries every key. */
export function readUNetConfig(json: unknown, what = 'unet config'): UNet2DConditionConfig {
  const c = readConfig(what, json, UNET_SPEC) as UNet2DConditionConfig;
  const blocks = c.block_out_channels.length;
  for (const [key, list, allowed] of [
    ['down_block_types', c.down_block_types, DOWN_BLOCK_TYPES],
    ['up_block_types', c.up_block_types, UP_BLOCK_TYPES],
  ] as const) {
    if (list.length !== blocks) throw new DiffusionError('INVALID_CONFIG', `${what}: "${key}" has ${list.length} entries for ${blocks} block_out_channels`);
    for (const type of list) {
      if (!(allowed as readonly string[]).includes(type)) throw new DiffusionError('INVALID_CONFIG', `${what}: unknown block type "${type}" in "${key}" (supported: ${allowed.join(', ')})`);
    }
  }
  if (!(MID_BLOCK_TYPES as readonly string[]).includes(c.mid_block_type)) {
    throw new DiffusionError('INVALID_CONFIG', `${what}: unknown block type ${JSON.stringify(c.mid_block_type)} in "mid_block_type" (supported: ${MID_BLOCK_TYPES.join(', ')})`);
  }
  for (const channels of c.block_out_channels) {
    if (channels % c.norm_num_groups !== 0) throw new DiffusionError('INVALID_CONFIG', `${what}: block_out_channels ${channels} is not a multiple of norm_num_groups ${c.norm_num_groups}`);
  }
  const heads = perBlock(what, 'attention heads', c.num_attention_heads ?? c.attention_head_dim, blocks);
  c.block_out_channels.forEach((channels, i) => {
    if (channels % heads[i] !== 0) throw new DiffusionError('INVALID_CONFIG', `${what}: block ${i} has ${channels} channels, not divisible into ${heads[i]} attention heads`);
  });
  perBlock(what, 'layers_per_block', c.layers_per_block, blocks);
  perBlock(what, 'transformer_layers_per_block', c.transformer_layers_per_block, blocks);
  return c;
}

/**
 * Sinusoidal timestep embedding (diffusers' get_timestep_embedding, max_period 10000):
 * f_k = exp(−ln(10000)·k/(half − shift)), emb = [sin(t·f), cos(t·f)], or [cos, sin] when flipped.
 * Computed in float32 steps as the reference does, so the arguments of sin and cos match it.
 */
export function timestepEmbedding(timesteps: ArrayLike<number>, dim: number, flipSinToCos: boolean, freqShift: number): Float32Array {
  const half = Math.floor(dim / 2);
  const out = new Float32Array(timesteps.length * dim);
  const f32 = Math.fround;
  for (let n = 0; n < timesteps.length; n++) {
    const t = f32(timesteps[n]);
    for (let k = 0; k < half; k++) {
      const frequency = f32(Math.exp(f32(f32(-Math.log(10000) * k) / (half - freqShift))));
      const angle = f32(t * frequency);
      const [first, second] = flipSinToCos ? [Math.cos(angle), Math.sin(angle)] : [Math.sin(angle), Math.cos(angle)];
      out[n * dim + k] = first;
      out[n * dim + half + k] = second;
    }
  }
  return out;
}

export class UNet2DConditionModel {
  readonly builder: ModuleBuilder;
  private readonly convIn: Conv2d;
  private readonly timeLinear1: Linear;
  private readonly timeLinear2: Linear;
  private readonly downBlocks: DownBlock2D[] = [];
  private readonly midBlock: UNetMidBlock2DCrossAttn;
  private readonly upBlocks: UpBlock2D[] = [];
  private readonly normOut: GroupNorm;
  private readonly convOut: Conv2d;

  constructor(
    engine: TensorEngine,
    random: Random,
    readonly config: UNet2DConditionConfig,
    init: ModelInitOptions = {},
  ) {
    this.builder = new ModuleBuilder(new ParameterStore(engine, random), init);
    const b = this.builder;
    const c = config;
    const channels = c.block_out_channels;
    const blocks = channels.length;
    const heads = perBlock('unet', 'attention heads', c.num_attention_heads ?? c.attention_head_dim, blocks);
    const layers = perBlock('unet', 'layers_per_block', c.layers_per_block, blocks);
    const transformerLayers = perBlock('unet', 'transformer_layers_per_block', c.transformer_layers_per_block, blocks);
    const timeChannels = channels[0] * 4;

    this.convIn = new Conv2d(b, 'conv_in', c.in_channels, channels[0], c.conv_in_kernel, 1, (c.conv_in_kernel - 1) / 2);
    this.timeLinear1 = new Linear(b, 'time_embedding.linear_1', channels[0], timeChannels);
    this.timeLinear2 = new Linear(b, 'time_embedding.linear_2', timeChannels, timeChannels);

    const options = (i: number, withAttention: boolean, layerCount: number) => ({
      layers: layerCount,
      timeChannels,
      groups: c.norm_num_groups,
      epsilon: c.norm_eps,
      attention: withAttention
        ? { heads: heads[i], headDim: channels[i] / heads[i], layers: transformerLayers[i], contextDim: c.cross_attention_dim, linearProjection: c.use_linear_projection }
        : null,
    });

    let out = channels[0];
    c.down_block_types.forEach((type, i) => {
      const input = out;
      out = channels[i];
      const final = i === blocks - 1;
      this.downBlocks.push(new DownBlock2D(b, `down_blocks.${i}`, input, out, !final, c.downsample_padding, options(i, type === 'CrossAttnDownBlock2D', layers[i])));
    });

    this.midBlock = new UNetMidBlock2DCrossAttn(b, 'mid_block', channels[blocks - 1], options(blocks - 1, true, 1));

    const reversed = channels.slice().reverse();
    const reversedLayers = layers.slice().reverse();
    let upOut = reversed[0];
    c.up_block_types.forEach((type, i) => {
      const previous = upOut;
      upOut = reversed[i];
      const input = reversed[Math.min(i + 1, blocks - 1)];
      const final = i === blocks - 1;
      const level = blocks - 1 - i;
      this.upBlocks.push(new UpBlock2D(b, `up_blocks.${i}`, input, upOut, previous, !final, options(level, type === 'CrossAttnUpBlock2D', reversedLayers[i] + 1)));
    });

    this.normOut = new GroupNorm(b, 'conv_norm_out', c.norm_num_groups, channels[0], c.norm_eps);
    this.convOut = new Conv2d(b, 'conv_out', channels[0], c.out_channels, c.conv_out_kernel, 1, (c.conv_out_kernel - 1) / 2);
  }

  get params(): ParameterStore {
    return this.builder.store;
  }

  /** How much the latent shrinks at the lowest level (2^(blocks − 1)). */
  get downsampleFactor(): number {
    return 2 ** (this.config.block_out_channels.length - 1);
  }

  /**
   * ε̂ (or v̂) for `sample` [N, h, w, in_channels] at `timesteps` (one per sample) under `context`
   * [N, M, cross_attention_dim]. NHWC in and out.
   */
  forward(e: TensorEngine, sample: Tensor, timesteps: ArrayLike<number>, context: Tensor): Tensor {
    const [n, , , channelsIn] = sample.shape;
    if (channelsIn !== this.config.in_channels) throw new DiffusionError('SHAPE_MISMATCH', `unet: sample has ${channelsIn} channels, config in_channels is ${this.config.in_channels}`);
    if (timesteps.length !== n) throw new DiffusionError('SHAPE_MISMATCH', `unet: ${timesteps.length} timesteps for a batch of ${n}`);
    if (context.shape.length !== 3 || context.shape[0] !== n || context.shape[2] !== this.config.cross_attention_dim) {
      throw new DiffusionError('SHAPE_MISMATCH', `unet: encoder hidden states [${context.shape}], expected [${n}, tokens, ${this.config.cross_attention_dim}]`);
    }
    const c = this.config;
    const embedding = e.tensor(timestepEmbedding(timesteps, c.block_out_channels[0], c.flip_sin_to_cos, c.freq_shift), [n, c.block_out_channels[0]]);
    return this.forwardEmbedded(e, sample, embedding, context);
  }

  /**
   * `forward` from the sinusoidal timestep embedding [N, block_out_channels[0]] (`timestepEmbedding`)
   * instead of the timesteps: the form the ONNX export traces, since the embedding is computed on
   * the host in either case.
   */
  forwardEmbedded(e: TensorEngine, sample: Tensor, embedding: Tensor, context: Tensor): Tensor {
    const c = this.config;
    let x = c.center_input_sample ? e.addScalar(e.mulScalar(sample, 2), -1) : sample;
    const temb = this.timeLinear2.apply(e, e.silu(this.timeLinear1.apply(e, embedding)));

    x = this.convIn.apply(e, x);
    const skips: Tensor[] = [x];
    for (const block of this.downBlocks) {
      const r = block.apply(e, x, temb, context);
      x = r.out;
      skips.push(...r.skips);
    }
    x = this.midBlock.apply(e, x, temb, context);
    for (const block of this.upBlocks) {
      const mine = skips.splice(skips.length - block.skipCount, block.skipCount);
      // The next block's skips fix this block's output size (odd sizes on the way down: diffusers' upsample_size).
      const next = skips[skips.length - 1];
      x = block.apply(e, x, mine, temb, context, next ? [next.shape[1], next.shape[2]] : undefined);
    }
    return this.convOut.apply(e, e.silu(this.normOut.apply(e, x)));
  }
}
