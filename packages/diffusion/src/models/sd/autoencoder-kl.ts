/**
 * AutoencoderKL — diffusers' models/autoencoders/autoencoder_kl.py and vae.py (`Encoder`, `Decoder`,
 * `DiagonalGaussianDistribution`), with the mid block's single-head attention of
 * `UNetMidBlock2D` (attention_processor.py with a group norm and a residual).
 *
 * The first stage of latent diffusion (Rombach et al. 2022, §3.1): the encoder maps an image
 * x ∈ [−1, 1]^{H×W×3} to a diagonal Gaussian over z ∈ R^{H/f × W/f × c} (f = 2^(blocks − 1)), the decoder
 * maps z back. The diffusion model works on z·scaling_factor (SD-1.x: 0.18215, one over the standard
 * deviation of its training latents), so sampling ends with decode(z / scaling_factor).
 */
import { DiffusionError } from '../../errors.ts';
import type { Random } from '../../rng.ts';
import type { Tensor, TensorEngine } from '../../tensor/engine.ts';
import { ParameterStore } from '../parameters.ts';
import { mergeHeads, scaledDotProductAttention, splitHeads } from './attention.ts';
import { type ConfigSpec, boolean, intList, onlyDefault, positiveInt, positiveNumber, readConfig, stringList } from './config.ts';
import { Conv2d, GroupNorm, Linear, ModuleBuilder, type ModelInitOptions } from './modules.ts';
import { Downsample2D, ResnetBlock2D, Upsample2D } from './resnet.ts';

export interface AutoencoderKLConfig {
  in_channels: number;
  out_channels: number;
  down_block_types: string[];
  up_block_types: string[];
  block_out_channels: number[];
  layers_per_block: number;
  act_fn: string;
  latent_channels: number;
  norm_num_groups: number;
  sample_size: number;
  scaling_factor: number;
  [key: string]: unknown;
}

const VAE_SPEC: ConfigSpec = {
  in_channels: positiveInt(3),
  out_channels: positiveInt(3),
  down_block_types: stringList(['DownEncoderBlock2D']),
  up_block_types: stringList(['UpDecoderBlock2D']),
  block_out_channels: intList([64]),
  layers_per_block: positiveInt(1),
  act_fn: onlyDefault('silu'),
  latent_channels: positiveInt(4),
  norm_num_groups: positiveInt(32),
  sample_size: positiveInt(32),
  scaling_factor: positiveNumber(0.18215),
  latents_mean: onlyDefault(null),
  latents_std: onlyDefault(null),
  shift_factor: onlyDefault(null),
  // Upcasting the decoder to float32 in half-precision pipelines: everything here is float32 already.
  force_upcast: boolean(true),
  use_quant_conv: onlyDefault(true),
  use_post_quant_conv: onlyDefault(true),
  mid_block_add_attention: onlyDefault(true),
};

export function readAutoencoderConfig(json: unknown, what = 'vae config'): AutoencoderKLConfig {
  const c = readConfig(what, json, VAE_SPEC) as AutoencoderKLConfig;
  const blocks = c.block_out_channels.length;
  for (const [key, list, type] of [
    ['down_block_types', c.down_block_types, 'DownEncoderBlock2D'],
    ['up_block_types', c.up_block_types, 'UpDecoderBlock2D'],
  ] as const) {
    if (list.length !== blocks) throw new DiffusionError('INVALID_CONFIG', `${what}: "${key}" has ${list.length} entries for ${blocks} block_out_channels`);
    for (const t of list) if (t !== type) throw new DiffusionError('INVALID_CONFIG', `${what}: unknown block type "${t}" in "${key}" (supported: ${type})`);
  }
  for (const channels of c.block_out_channels) {
    if (channels % c.norm_num_groups !== 0) throw new DiffusionError('INVALID_CONFIG', `${what}: block_out_channels ${channels} is not a multiple of norm_num_groups ${c.norm_num_groups}`);
  }
  return c;
}

const VAE_EPSILON = 1e-6;

/** Single-head self-attention over the H·W positions with a GroupNorm before and a residual after. */
class VaeAttention {
  private readonly norm: GroupNorm;
  private readonly toQ: Linear;
  private readonly toK: Linear;
  private readonly toV: Linear;
  private readonly toOut: Linear;
  constructor(
    b: ModuleBuilder,
    name: string,
    private readonly channels: number,
    groups: number,
  ) {
    this.norm = new GroupNorm(b, `${name}.group_norm`, groups, channels, VAE_EPSILON);
    this.toQ = new Linear(b, `${name}.to_q`, channels, channels);
    this.toK = new Linear(b, `${name}.to_k`, channels, channels);
    this.toV = new Linear(b, `${name}.to_v`, channels, channels);
    this.toOut = new Linear(b, `${name}.to_out.0`, channels, channels);
  }
  apply(e: TensorEngine, x: Tensor): Tensor {
    const [n, h, w, c] = x.shape;
    const tokens = e.reshape(this.norm.apply(e, x), [n, h * w, c]);
    const q = splitHeads(e, this.toQ.apply(e, tokens), 1);
    const k = splitHeads(e, this.toK.apply(e, tokens), 1);
    const v = splitHeads(e, this.toV.apply(e, tokens), 1);
    const attended = mergeHeads(e, scaledDotProductAttention(e, q, k, v, 1 / Math.sqrt(this.channels)), 1);
    return e.add(e.reshape(this.toOut.apply(e, attended), [n, h, w, c]), x);
  }
}

/** UNetMidBlock2D without a time embedding: resnet → attention → resnet. */
class VaeMidBlock {
  private readonly first: ResnetBlock2D;
  private readonly attention: VaeAttention;
  private readonly second: ResnetBlock2D;
  constructor(b: ModuleBuilder, name: string, channels: number, groups: number) {
    this.first = new ResnetBlock2D(b, `${name}.resnets.0`, channels, channels, null, groups, VAE_EPSILON);
    this.attention = new VaeAttention(b, `${name}.attentions.0`, channels, groups);
    this.second = new ResnetBlock2D(b, `${name}.resnets.1`, channels, channels, null, groups, VAE_EPSILON);
  }
  apply(e: TensorEngine, x: Tensor): Tensor {
    return this.second.apply(e, this.attention.apply(e, this.first.apply(e, x)));
  }
}

class Encoder {
  private readonly convIn: Conv2d;
  private readonly blocks: Array<{ resnets: ResnetBlock2D[]; down: Downsample2D | null }> = [];
  private readonly mid: VaeMidBlock;
  private readonly normOut: GroupNorm;
  private readonly convOut: Conv2d;
  constructor(b: ModuleBuilder, c: AutoencoderKLConfig) {
    const channels = c.block_out_channels;
    const g = c.norm_num_groups;
    this.convIn = new Conv2d(b, 'encoder.conv_in', c.in_channels, channels[0], 3, 1, 1);
    let out = channels[0];
    channels.forEach((ch, i) => {
      const input = out;
      out = ch;
      const resnets: ResnetBlock2D[] = [];
      for (let j = 0; j < c.layers_per_block; j++) resnets.push(new ResnetBlock2D(b, `encoder.down_blocks.${i}.resnets.${j}`, j === 0 ? input : out, out, null, g, VAE_EPSILON));
      const down = i === channels.length - 1 ? null : new Downsample2D(b, `encoder.down_blocks.${i}.downsamplers.0`, out, 0);
      this.blocks.push({ resnets, down });
    });
    const last = channels[channels.length - 1];
    this.mid = new VaeMidBlock(b, 'encoder.mid_block', last, g);
    this.normOut = new GroupNorm(b, 'encoder.conv_norm_out', g, last, VAE_EPSILON);
    this.convOut = new Conv2d(b, 'encoder.conv_out', last, 2 * c.latent_channels, 3, 1, 1);
  }
  apply(e: TensorEngine, x: Tensor): Tensor {
    let h = this.convIn.apply(e, x);
    for (const block of this.blocks) {
      for (const resnet of block.resnets) h = resnet.apply(e, h);
      if (block.down) h = block.down.apply(e, h);
    }
    h = this.mid.apply(e, h);
    return this.convOut.apply(e, e.silu(this.normOut.apply(e, h)));
  }
}

class Decoder {
  private readonly convIn: Conv2d;
  private readonly mid: VaeMidBlock;
  private readonly blocks: Array<{ resnets: ResnetBlock2D[]; up: Upsample2D | null }> = [];
  private readonly normOut: GroupNorm;
  private readonly convOut: Conv2d;
  constructor(b: ModuleBuilder, c: AutoencoderKLConfig) {
    const reversed = c.block_out_channels.slice().reverse();
    const g = c.norm_num_groups;
    this.convIn = new Conv2d(b, 'decoder.conv_in', c.latent_channels, reversed[0], 3, 1, 1);
    this.mid = new VaeMidBlock(b, 'decoder.mid_block', reversed[0], g);
    let out = reversed[0];
    reversed.forEach((ch, i) => {
      const input = out;
      out = ch;
      const resnets: ResnetBlock2D[] = [];
      for (let j = 0; j <= c.layers_per_block; j++) resnets.push(new ResnetBlock2D(b, `decoder.up_blocks.${i}.resnets.${j}`, j === 0 ? input : out, out, null, g, VAE_EPSILON));
      const up = i === reversed.length - 1 ? null : new Upsample2D(b, `decoder.up_blocks.${i}.upsamplers.0`, out);
      this.blocks.push({ resnets, up });
    });
    this.normOut = new GroupNorm(b, 'decoder.conv_norm_out', g, c.block_out_channels[0], VAE_EPSILON);
    this.convOut = new Conv2d(b, 'decoder.conv_out', c.block_out_channels[0], c.out_channels, 3, 1, 1);
  }
  apply(e: TensorEngine, z: Tensor): Tensor {
    let h = this.mid.apply(e, this.convIn.apply(e, z));
    for (const block of this.blocks) {
      for (const resnet of block.resnets) h = resnet.apply(e, h);
      if (block.up) h = block.up.apply(e, h);
    }
    return this.convOut.apply(e, e.silu(this.normOut.apply(e, h)));
  }
}

export interface LatentDistribution {
  /** [N, h, w, latent_channels] */
  mean: Tensor;
  /** log σ², clamped to [−30, 20] as diffusers does. */
  logvar: Tensor;
}

export class AutoencoderKL {
  readonly builder: ModuleBuilder;
  private readonly encoder: Encoder;
  private readonly decoder: Decoder;
  private readonly quantConv: Conv2d;
  private readonly postQuantConv: Conv2d;
  constructor(
    engine: TensorEngine,
    random: Random,
    readonly config: AutoencoderKLConfig,
    init: ModelInitOptions = {},
  ) {
    this.builder = new ModuleBuilder(new ParameterStore(engine, random), init);
    const b = this.builder;
    const latent = config.latent_channels;
    this.encoder = new Encoder(b, config);
    this.decoder = new Decoder(b, config);
    this.quantConv = new Conv2d(b, 'quant_conv', 2 * latent, 2 * latent, 1);
    this.postQuantConv = new Conv2d(b, 'post_quant_conv', latent, latent, 1);
  }

  get params(): ParameterStore {
    return this.builder.store;
  }

  /** Pixels per latent pixel along each axis (SD-1.x: 8). */
  get scaleFactor(): number {
    return 2 ** (this.config.block_out_channels.length - 1);
  }

  /** x NHWC in [−1, 1] → q(z | x). */
  encode(e: TensorEngine, x: Tensor): LatentDistribution {
    const moments = this.quantConv.apply(e, this.encoder.apply(e, x));
    const [n, h, w, c2] = moments.shape;
    const c = c2 / 2;
    const mean = e.slice(moments, [0, 0, 0, 0], [n, h, w, c]);
    const raw = e.slice(moments, [0, 0, 0, c], [n, h, w, c]);
    // clamp(logvar, −30, 20) = min(max(·)) written with the seam's relu: a + relu(x − a) − relu(x − b).
    const logvar = e.sub(e.addScalar(e.relu(e.addScalar(raw, 30)), -30), e.relu(e.addScalar(raw, -20)));
    return { mean, logvar };
  }

  /** z NHWC (unscaled latent) → image NHWC, nominally in [−1, 1]. */
  decode(e: TensorEngine, z: Tensor): Tensor {
    return this.decoder.apply(e, this.postQuantConv.apply(e, z));
  }
}
