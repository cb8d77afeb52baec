import { DiffusionError } from '../errors.ts';
import type { Tensor, TensorEngine } from '../tensor/engine.ts';
import { Conv2d, Dense, type ForwardMode, GroupNorm } from './layers.ts';
import type { ParameterStore } from './parameters.ts';

/**
 * A general UNet2D in the style of DDPM / diffusers' UNet2DModel: channels per level, sinusoidal
 * time embedding through an MLP, residual blocks with GroupNorm and SiLU, optional single-head
 * self-attention at chosen levels (and in the middle), and a class embedding added to the time
 * embedding. The class embedding is a bias-free linear map of the context vector, which equals an
 * embedding table for one-hot input and also accepts mixes; the zero vector is the null class.
 */
export interface Unet2dConfig {
  kind: 'unet';
  inChannels: number;
  height: number;
  width: number;
  /** Channels of each resolution level, e.g. [32, 64, 64]; one 2× downsample between levels. */
  channels: number[];
  /** Residual blocks per level on the way down (the way up has one more, as in diffusers). */
  layersPerBlock: number;
  /** Level indices that get self-attention after each residual block (e.g. [2] for the lowest). */
  attentionLevels: number[];
  /** Length of the context vector (number of classes); 0 for an unconditional model. */
  numClasses: number;
  /** GroupNorm groups; every entry of `channels` must be divisible by it. */
  normGroups: number;
}

export const UNET2D_KEYS = ['kind', 'inChannels', 'height', 'width', 'channels', 'layersPerBlock', 'attentionLevels', 'numClasses', 'normGroups'];

class ResBlock {
  private readonly norm1: GroupNorm;
  private readonly conv1: Conv2d;
  private readonly timeProj: Dense;
  private readonly norm2: GroupNorm;
  private readonly conv2: Conv2d;
  private readonly shortcut: Conv2d | null;
  constructor(p: ParameterStore, name: string, inC: number, outC: number, tembDim: number, groups: number) {
    this.norm1 = new GroupNorm(p, `${name}.norm1`, groups, inC);
    this.conv1 = new Conv2d(p, `${name}.conv1`, inC, outC, 3);
    this.timeProj = new Dense(p, `${name}.time_proj`, tembDim, outC);
    this.norm2 = new GroupNorm(p, `${name}.norm2`, groups, outC);
    this.conv2 = new Conv2d(p, `${name}.conv2`, outC, outC, 3);
    this.shortcut = inC !== outC ? new Conv2d(p, `${name}.shortcut`, inC, outC, 1) : null;
  }
  apply(e: TensorEngine, x: Tensor, tembActivated: Tensor): Tensor {
    const n = x.shape[0];
    let h = this.conv1.apply(e, e.silu(this.norm1.apply(e, x)));
    const t = this.timeProj.apply(e, tembActivated);
    h = e.add(h, e.reshape(t, [n, 1, 1, t.shape[1]]));
    h = this.conv2.apply(e, e.silu(this.norm2.apply(e, h)));
    return e.add(this.shortcut ? this.shortcut.apply(e, x) : x, h);
  }
}

class SelfAttention {
  private readonly norm: GroupNorm;
  private readonly qkv: Dense;
  private readonly proj: Dense;
  constructor(
    p: ParameterStore,
    name: string,
    private readonly channels: number,
    groups: number,
  ) {
    this.norm = new GroupNorm(p, `${name}.norm`, groups, channels);
    this.qkv = new Dense(p, `${name}.qkv`, channels, 3 * channels);
    this.proj = new Dense(p, `${name}.proj`, channels, channels);
  }
  apply(e: TensorEngine, x: Tensor): Tensor {
    const [n, h, w, c] = x.shape;
    const flat = e.reshape(this.norm.apply(e, x), [n * h * w, c]);
    const qkv = e.reshape(this.qkv.apply(e, flat), [n, h * w, 3, c]);
    const q = e.reshape(e.transpose(qkv, [2, 0, 1, 3]), [3, n, h * w, c]);
    const parts = [0, 1, 2].map((i) => e.reshape(sliceFirst(e, q, i), [n, h * w, c]));
    // softmax(QKᵀ/√C)·V (Vaswani et al. 2017, eq. 1), one head.
    const weights = e.softmax(e.mulScalar(e.matMul(parts[0], parts[1], false, true), 1 / Math.sqrt(this.channels)));
    const attended = e.reshape(e.matMul(weights, parts[2]), [n * h * w, c]);
    return e.add(x, e.reshape(this.proj.apply(e, attended), [n, h, w, c]));
  }
}

/** x[i] along the first axis, via a one-hot matMul so it stays inside the seam's op set. */
function sliceFirst(e: TensorEngine, x: Tensor, index: number): Tensor {
  const [k, ...rest] = x.shape;
  const selector = new Float32Array(k);
  selector[index] = 1;
  const size = rest.reduce((a, b) => a * b, 1);
  return e.reshape(e.matMul(e.tensor(selector, [1, k]), e.reshape(x, [k, size])), rest);
}

export class Unet2d {
  private readonly convIn: Conv2d;
  private readonly time1: Dense;
  private readonly time2: Dense;
  private readonly classEmbed: Dense | null;
  private readonly down: Array<{ blocks: ResBlock[]; attentions: SelfAttention[]; downsample: Conv2d | null }> = [];
  private readonly mid: { block1: ResBlock; attention: SelfAttention | null; block2: ResBlock };
  private readonly up: Array<{ blocks: ResBlock[]; attentions: SelfAttention[]; upsample: Conv2d | null }> = [];
  private readonly normOut: GroupNorm;
  private readonly convOut: Conv2d;
  private readonly tembDim: number;

  constructor(
    readonly config: Unet2dConfig,
    readonly params: ParameterStore,
  ) {
    const c = config;
    const levels = c.channels.length;
    const factor = 2 ** (levels - 1);
    if (levels < 1) throw new DiffusionError('INVALID_CONFIG', 'unet: channels must list at least one level');
    if (c.height % factor !== 0 || c.width % factor !== 0) {
      throw new DiffusionError('INVALID_CONFIG', `unet: ${c.height}×${c.width} is not divisible by 2^${levels - 1}`);
    }
    for (const ch of c.channels) {
      if (ch % c.normGroups !== 0) throw new DiffusionError('INVALID_CONFIG', `unet: channels ${ch} not divisible by normGroups ${c.normGroups}`);
    }
    if (c.attentionLevels.some((l) => l < 0 || l >= levels)) throw new DiffusionError('INVALID_CONFIG', 'unet: attentionLevels out of range');
    const p = params;
    const g = c.normGroups;
    this.tembDim = 4 * c.channels[0];
    this.convIn = new Conv2d(p, 'conv_in', c.inChannels, c.channels[0], 3);
    this.time1 = new Dense(p, 'time_embedding.linear1', c.channels[0], this.tembDim);
    this.time2 = new Dense(p, 'time_embedding.linear2', this.tembDim, this.tembDim);
    this.classEmbed = c.numClasses > 0 ? new Dense(p, 'class_embedding', c.numClasses, this.tembDim, false) : null;

    const skipChannels: number[] = [c.channels[0]];
    let ch = c.channels[0];
    for (let level = 0; level < levels; level++) {
      const blocks: ResBlock[] = [];
      const attentions: SelfAttention[] = [];
      for (let i = 0; i < c.layersPerBlock; i++) {
        blocks.push(new ResBlock(p, `down.${level}.res.${i}`, ch, c.channels[level], this.tembDim, g));
        ch = c.channels[level];
        if (c.attentionLevels.includes(level)) attentions.push(new SelfAttention(p, `down.${level}.attn.${i}`, ch, g));
        skipChannels.push(ch);
      }
      const downsample = level < levels - 1 ? new Conv2d(p, `down.${level}.downsample`, ch, ch, 3, 2) : null;
      if (downsample) skipChannels.push(ch);
      this.down.push({ blocks, attentions, downsample });
    }
    this.mid = {
      block1: new ResBlock(p, 'mid.res.0', ch, ch, this.tembDim, g),
      attention: c.attentionLevels.length > 0 ? new SelfAttention(p, 'mid.attn', ch, g) : null,
      block2: new ResBlock(p, 'mid.res.1', ch, ch, this.tembDim, g),
    };
    for (let level = levels - 1; level >= 0; level--) {
      const blocks: ResBlock[] = [];
      const attentions: SelfAttention[] = [];
      for (let i = 0; i <= c.layersPerBlock; i++) {
        const skip = skipChannels.pop() as number;
        blocks.push(new ResBlock(p, `up.${level}.res.${i}`, ch + skip, c.channels[level], this.tembDim, g));
        ch = c.channels[level];
        if (c.attentionLevels.includes(level)) attentions.push(new SelfAttention(p, `up.${level}.attn.${i}`, ch, g));
      }
      const upsample = level > 0 ? new Conv2d(p, `up.${level}.upsample`, ch, ch, 3) : null;
      this.up.push({ blocks, attentions, upsample });
    }
    this.normOut = new GroupNorm(p, 'norm_out', g, ch);
    this.convOut = new Conv2d(p, 'conv_out', ch, c.inChannels, 3);
  }

  /** Sinusoidal embedding of t (Vaswani et al. 2017 §3.5; DDPM appendix B): [sin(t·ω_k), cos(t·ω_k)], ω_k = 10000^(−k/(d/2)). */
  private timestepEmbedding(e: TensorEngine, timesteps: Tensor): Tensor {
    const dim = this.config.channels[0];
    const half = Math.floor(dim / 2);
    const freqs = new Float32Array(half);
    for (let k = 0; k < half; k++) freqs[k] = Math.exp((-Math.log(10000) * k) / half);
    const n = timesteps.shape[0];
    const args = e.matMul(e.reshape(timesteps, [n, 1]), e.tensor(freqs, [1, half]));
    const parts = [e.sin(args), e.cos(args)];
    if (dim % 2 === 1) parts.push(e.zeros([n, 1]));
    return e.concat(parts, 1);
  }

  forward(e: TensorEngine, x: Tensor, timesteps: Tensor, context: Tensor, _mode: ForwardMode): Tensor {
    let temb = this.time2.apply(e, e.silu(this.time1.apply(e, this.timestepEmbedding(e, timesteps))));
    if (this.classEmbed) temb = e.add(temb, this.classEmbed.apply(e, context));
    const tact = e.silu(temb);

    let h = this.convIn.apply(e, x);
    const skips: Tensor[] = [h];
    for (const level of this.down) {
      level.blocks.forEach((block, i) => {
        h = block.apply(e, h, tact);
        if (level.attentions[i]) h = level.attentions[i].apply(e, h);
        skips.push(h);
      });
      if (level.downsample) {
        h = level.downsample.apply(e, h);
        skips.push(h);
      }
    }
    h = this.mid.block1.apply(e, h, tact);
    if (this.mid.attention) h = this.mid.attention.apply(e, h);
    h = this.mid.block2.apply(e, h, tact);
    for (const level of this.up) {
      level.blocks.forEach((block, i) => {
        h = block.apply(e, e.concat([h, skips.pop() as Tensor], 3), tact);
        if (level.attentions[i]) h = level.attentions[i].apply(e, h);
      });
      if (level.upsample) h = level.upsample.apply(e, e.upsampleNearest(h, 2));
    }
    return this.convOut.apply(e, e.silu(this.normOut.apply(e, h)));
  }
}
