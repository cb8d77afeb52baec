import { DiffusionError } from '../errors.ts';
import type { Tensor, TensorEngine } from '../tensor/engine.ts';
import { BatchNorm, Conv2d, ConvTranspose2d, Dense, type ForwardMode, GroupNorm } from './layers.ts';
import type { ParameterStore } from './parameters.ts';

/**
 * The DeepLearning.AI course's ContextUnet: residual conv blocks, two down and two up levels, a
 * time embedding (t/T through a small MLP) that is added and a context embedding that multiplies
 * the up-path features. Fixed here: the residual shortcut for a channel change is a real, trained
 * 1×1 convolution (the course built a fresh random one inside forward()).
 */
export interface ContextUnetConfig {
  kind: 'context-unet';
  inChannels: number;
  /** n_feat: channels of the first level (the course: 64). Must be a multiple of 8 (GroupNorm(8)). */
  nFeat: number;
  /** n_cfeat: length of the context vector (the course: 5 sprite classes). */
  nCfeat: number;
  /** Image side (square images), a multiple of 4 (the course: 16). */
  height: number;
  /** T, the number of training timesteps; the time input is t/T. */
  numTrainTimesteps: number;
}

export const CONTEXT_UNET_KEYS = ['kind', 'inChannels', 'nFeat', 'nCfeat', 'height', 'numTrainTimesteps'];

class ResidualConvBlock {
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm;
  private readonly conv2: Conv2d;
  private readonly bn2: BatchNorm;
  private readonly shortcut: Conv2d | null;
  constructor(
    params: ParameterStore,
    name: string,
    inChannels: number,
    outChannels: number,
    private readonly isResidual: boolean,
  ) {
    this.conv1 = new Conv2d(params, `${name}.conv1`, inChannels, outChannels, 3);
    this.bn1 = new BatchNorm(params, `${name}.bn1`, outChannels);
    this.conv2 = new Conv2d(params, `${name}.conv2`, outChannels, outChannels, 3);
    this.bn2 = new BatchNorm(params, `${name}.bn2`, outChannels);
    this.shortcut = isResidual && inChannels !== outChannels ? new Conv2d(params, `${name}.shortcut`, inChannels, outChannels, 1) : null;
  }
  apply(e: TensorEngine, x: Tensor, mode: ForwardMode): Tensor {
    const x1 = e.gelu(this.bn1.apply(e, this.conv1.apply(e, x), mode));
    const x2 = e.gelu(this.bn2.apply(e, this.conv2.apply(e, x1), mode));
    if (!this.isResidual) return x2;
    const skip = this.shortcut ? this.shortcut.apply(e, x) : x;
    // The course divides by 1.414 (≈√2) to keep the sum's variance near one.
    return e.mulScalar(e.add(skip, x2), 1 / 1.414);
  }
}

class EmbedFC {
  private readonly fc1: Dense;
  private readonly fc2: Dense;
  constructor(params: ParameterStore, name: string, inputDim: number, embedDim: number) {
    this.fc1 = new Dense(params, `${name}.fc1`, inputDim, embedDim);
    this.fc2 = new Dense(params, `${name}.fc2`, embedDim, embedDim);
  }
  apply(e: TensorEngine, x: Tensor): Tensor {
    return this.fc2.apply(e, e.gelu(this.fc1.apply(e, x)));
  }
}

export class ContextUnet {
  private readonly initConv: ResidualConvBlock;
  private readonly down1: ResidualConvBlock[];
  private readonly down2: ResidualConvBlock[];
  private readonly timeEmbed1: EmbedFC;
  private readonly timeEmbed2: EmbedFC;
  private readonly contextEmbed1: EmbedFC;
  private readonly contextEmbed2: EmbedFC;
  private readonly up0: ConvTranspose2d;
  private readonly up0Norm: GroupNorm;
  private readonly up1: { convT: ConvTranspose2d; blocks: ResidualConvBlock[] };
  private readonly up2: { convT: ConvTranspose2d; blocks: ResidualConvBlock[] };
  private readonly outConv1: Conv2d;
  private readonly outNorm: GroupNorm;
  private readonly outConv2: Conv2d;

  constructor(
    readonly config: ContextUnetConfig,
    readonly params: ParameterStore,
  ) {
    const { inChannels, nFeat, nCfeat, height } = config;
    if (height % 4 !== 0 || height < 4) throw new DiffusionError('INVALID_CONFIG', `context-unet: height must be a multiple of 4, got ${height}`);
    if (nFeat % 8 !== 0 || nFeat < 8) throw new DiffusionError('INVALID_CONFIG', `context-unet: nFeat must be a multiple of 8, got ${nFeat}`);
    if (!(nCfeat >= 1)) throw new DiffusionError('INVALID_CONFIG', `context-unet: nCfeat must be ≥ 1, got ${nCfeat}`);
    const p = params;
    this.initConv = new ResidualConvBlock(p, 'init_conv', inChannels, nFeat, true);
    this.down1 = [new ResidualConvBlock(p, 'down1.0', nFeat, nFeat, false), new ResidualConvBlock(p, 'down1.1', nFeat, nFeat, false)];
    this.down2 = [new ResidualConvBlock(p, 'down2.0', nFeat, 2 * nFeat, false), new ResidualConvBlock(p, 'down2.1', 2 * nFeat, 2 * nFeat, false)];
    this.timeEmbed1 = new EmbedFC(p, 'timeembed1', 1, 2 * nFeat);
    this.timeEmbed2 = new EmbedFC(p, 'timeembed2', 1, nFeat);
    this.contextEmbed1 = new EmbedFC(p, 'contextembed1', nCfeat, 2 * nFeat);
    this.contextEmbed2 = new EmbedFC(p, 'contextembed2', nCfeat, nFeat);
    this.up0 = new ConvTranspose2d(p, 'up0.convT', 2 * nFeat, 2 * nFeat, height / 4);
    this.up0Norm = new GroupNorm(p, 'up0.norm', 8, 2 * nFeat);
    const up = (name: string, inC: number, outC: number): { convT: ConvTranspose2d; blocks: ResidualConvBlock[] } => ({
      convT: new ConvTranspose2d(p, `${name}.convT`, inC, outC, 2),
      blocks: [new ResidualConvBlock(p, `${name}.0`, outC, outC, false), new ResidualConvBlock(p, `${name}.1`, outC, outC, false)],
    });
    this.up1 = up('up1', 4 * nFeat, nFeat);
    this.up2 = up('up2', 2 * nFeat, nFeat);
    this.outConv1 = new Conv2d(p, 'out.conv1', 2 * nFeat, nFeat, 3);
    this.outNorm = new GroupNorm(p, 'out.norm', 8, nFeat);
    this.outConv2 = new Conv2d(p, 'out.conv2', nFeat, inChannels, 3);
  }

  /** x: [N, H, W, C]; timesteps: [N] (integer t); context: [N, nCfeat] (zeros = unconditional). Returns ε̂. */
  forward(e: TensorEngine, x: Tensor, timesteps: Tensor, context: Tensor, mode: ForwardMode): Tensor {
    const n = x.shape[0];
    const nFeat = this.config.nFeat;
    const h0 = this.initConv.apply(e, x, mode);
    const d1 = e.maxPool(this.down1[1].apply(e, this.down1[0].apply(e, h0, mode), mode), 2);
    const d2 = e.maxPool(this.down2[1].apply(e, this.down2[0].apply(e, d1, mode), mode), 2);
    // to_vec: AvgPool over the whole H/4 × W/4 map, then GELU.
    const hidden = e.gelu(e.avgPool(d2, this.config.height / 4));

    const tNorm = e.reshape(e.mulScalar(timesteps, 1 / this.config.numTrainTimesteps), [n, 1]);
    const cemb1 = e.reshape(this.contextEmbed1.apply(e, context), [n, 1, 1, 2 * nFeat]);
    const temb1 = e.reshape(this.timeEmbed1.apply(e, tNorm), [n, 1, 1, 2 * nFeat]);
    const cemb2 = e.reshape(this.contextEmbed2.apply(e, context), [n, 1, 1, nFeat]);
    const temb2 = e.reshape(this.timeEmbed2.apply(e, tNorm), [n, 1, 1, nFeat]);

    const u1 = e.relu(this.up0Norm.apply(e, this.up0.apply(e, hidden)));
    const upApply = (blk: { convT: ConvTranspose2d; blocks: ResidualConvBlock[] }, y: Tensor, skip: Tensor): Tensor => {
      const z = blk.convT.apply(e, e.concat([y, skip], 3));
      return blk.blocks[1].apply(e, blk.blocks[0].apply(e, z, mode), mode);
    };
    // Context multiplies, time adds (the course: up1(cemb1*up1 + temb1, down2)).
    const u2 = upApply(this.up1, e.add(e.mul(cemb1, u1), temb1), d2);
    const u3 = upApply(this.up2, e.add(e.mul(cemb2, u2), temb2), d1);
    const out = e.relu(this.outNorm.apply(e, this.outConv1.apply(e, e.concat([u3, h0], 3))));
    return this.outConv2.apply(e, out);
  }
}
