/**
 * The UNet's down, mid and up blocks — diffusers' models/unets/unet_2d_blocks.py:
 * `CrossAttnDownBlock2D` / `DownBlock2D` (one class here, with or without spatial transformers),
 * `UNetMidBlock2DCrossAttn`, and `CrossAttnUpBlock2D` / `UpBlock2D`.
 *
 * Skip connections (Ronneberger et al. 2015): each down block hands back the output of every
 * resnet (+ transformer) and of its downsampler; each up block takes as many of them back, last
 * first, concatenating each on the channel axis before its resnet.
 */
import type { Tensor, TensorEngine } from '../../tensor/engine.ts';
import { Transformer2DModel, type Transformer2DOptions } from './attention.ts';
import type { ModuleBuilder } from './modules.ts';
import { Downsample2D, ResnetBlock2D, Upsample2D } from './resnet.ts';

export const DOWN_BLOCK_TYPES = ['CrossAttnDownBlock2D', 'DownBlock2D'] as const;
export const UP_BLOCK_TYPES = ['CrossAttnUpBlock2D', 'UpBlock2D'] as const;
export const MID_BLOCK_TYPES = ['UNetMidBlock2DCrossAttn'] as const;

export interface BlockOptions {
  layers: number;
  timeChannels: number;
  groups: number;
  epsilon: number;
  /** The spatial transformer's settings; null for the blocks without attention. */
  attention: Omit<Transformer2DOptions, 'groups'> | null;
}

function transformer(b: ModuleBuilder, name: string, channels: number, options: BlockOptions): Transformer2DModel | null {
  return options.attention ? new Transformer2DModel(b, name, channels, { ...options.attention, groups: options.groups }) : null;
}

export class DownBlock2D {
  private readonly resnets: ResnetBlock2D[] = [];
  private readonly attentions: Array<Transformer2DModel | null> = [];
  private readonly downsampler: Downsample2D | null;
  constructor(b: ModuleBuilder, name: string, inChannels: number, outChannels: number, addDownsample: boolean, downsamplePadding: number, options: BlockOptions) {
    for (let i = 0; i < options.layers; i++) {
      this.resnets.push(new ResnetBlock2D(b, `${name}.resnets.${i}`, i === 0 ? inChannels : outChannels, outChannels, options.timeChannels, options.groups, options.epsilon));
      this.attentions.push(transformer(b, `${name}.attentions.${i}`, outChannels, options));
    }
    this.downsampler = addDownsample ? new Downsample2D(b, `${name}.downsamplers.0`, outChannels, downsamplePadding) : null;
  }
  apply(e: TensorEngine, x: Tensor, temb: Tensor, context: Tensor): { out: Tensor; skips: Tensor[] } {
    const skips: Tensor[] = [];
    let h = x;
    this.resnets.forEach((resnet, i) => {
      h = resnet.apply(e, h, temb);
      const attention = this.attentions[i];
      if (attention) h = attention.apply(e, h, context);
      skips.push(h);
    });
    if (this.downsampler) {
      h = this.downsampler.apply(e, h);
      skips.push(h);
    }
    return { out: h, skips };
  }
}

/** resnet → transformer → resnet at the lowest resolution. */
export class UNetMidBlock2DCrossAttn {
  private readonly resnets: ResnetBlock2D[];
  private readonly attention: Transformer2DModel;
  constructor(b: ModuleBuilder, name: string, channels: number, options: BlockOptions) {
    const resnet = (i: number) => new ResnetBlock2D(b, `${name}.resnets.${i}`, channels, channels, options.timeChannels, options.groups, options.epsilon);
    const first = resnet(0);
    this.attention = transformer(b, `${name}.attentions.0`, channels, options) as Transformer2DModel;
    this.resnets = [first, resnet(1)];
  }
  apply(e: TensorEngine, x: Tensor, temb: Tensor, context: Tensor): Tensor {
    const h = this.attention.apply(e, this.resnets[0].apply(e, x, temb), context);
    return this.resnets[1].apply(e, h, temb);
  }
}

export class UpBlock2D {
  private readonly resnets: ResnetBlock2D[] = [];
  private readonly attentions: Array<Transformer2DModel | null> = [];
  private readonly upsampler: Upsample2D | null;
  /**
   * `inChannels`: the channels of the skip that the last resnet takes (the matching down block's
   * input); `previousChannels`: the channels arriving from below.
   */
  constructor(b: ModuleBuilder, name: string, inChannels: number, outChannels: number, previousChannels: number, addUpsample: boolean, options: BlockOptions) {
    for (let i = 0; i < options.layers; i++) {
      const skipChannels = i === options.layers - 1 ? inChannels : outChannels;
      const resnetIn = (i === 0 ? previousChannels : outChannels) + skipChannels;
      this.resnets.push(new ResnetBlock2D(b, `${name}.resnets.${i}`, resnetIn, outChannels, options.timeChannels, options.groups, options.epsilon));
      this.attentions.push(transformer(b, `${name}.attentions.${i}`, outChannels, options));
    }
    this.upsampler = addUpsample ? new Upsample2D(b, `${name}.upsamplers.0`, outChannels) : null;
  }
  get skipCount(): number {
    return this.resnets.length;
  }
  /** `skips`: this block's skip connections, in the order the down path produced them. */
  apply(e: TensorEngine, x: Tensor, skips: Tensor[], temb: Tensor, context: Tensor, upsampleSize?: [number, number]): Tensor {
    let h = x;
    this.resnets.forEach((resnet, i) => {
      h = resnet.apply(e, e.concat([h, skips[skips.length - 1 - i]], 3), temb);
      const attention = this.attentions[i];
      if (attention) h = attention.apply(e, h, context);
    });
    return this.upsampler ? this.upsampler.apply(e, h, upsampleSize) : h;
  }
}
