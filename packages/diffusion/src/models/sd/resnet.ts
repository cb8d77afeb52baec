/**
 * Residual and resampling blocks shared by the UNet and the VAE — diffusers' models/resnet.py
 * (`ResnetBlock2D` with time_scale_shift "default"), models/downsampling.py (`Downsample2D`) and
 * models/upsampling.py (`Upsample2D`). NHWC throughout.
 */
import type { Tensor, TensorEngine } from '../../tensor/engine.ts';
import { Conv2d, GroupNorm, Linear, type ModuleBuilder } from './modules.ts';

/**
 * h = conv1(silu(norm1 x)) [+ time_emb_proj(silu(temb)) per channel]; h = conv2(silu(norm2 h));
 * out = shortcut(x) + h, where the shortcut is a 1×1 convolution when the channel count changes
 * (He et al. 2016, with GroupNorm and the DDPM time embedding added after the first convolution).
 */
export class ResnetBlock2D {
  private readonly norm1: GroupNorm;
  private readonly conv1: Conv2d;
  private readonly timeEmbProj: Linear | null;
  private readonly norm2: GroupNorm;
  private readonly conv2: Conv2d;
  private readonly shortcut: Conv2d | null;
  constructor(b: ModuleBuilder, name: string, inChannels: number, outChannels: number, timeChannels: number | null, groups: number, epsilon: number) {
    this.norm1 = new GroupNorm(b, `${name}.norm1`, groups, inChannels, epsilon);
    this.conv1 = new Conv2d(b, `${name}.conv1`, inChannels, outChannels, 3, 1, 1);
    this.timeEmbProj = timeChannels === null ? null : new Linear(b, `${name}.time_emb_proj`, timeChannels, outChannels);
    this.norm2 = new GroupNorm(b, `${name}.norm2`, groups, outChannels, epsilon);
    this.conv2 = new Conv2d(b, `${name}.conv2`, outChannels, outChannels, 3, 1, 1);
    this.shortcut = inChannels === outChannels ? null : new Conv2d(b, `${name}.conv_shortcut`, inChannels, outChannels, 1);
  }
  /** x [N, H, W, C]; temb [N, timeChannels] (already through the UNet's time MLP) or undefined. */
  apply(e: TensorEngine, x: Tensor, temb?: Tensor): Tensor {
    let h = this.conv1.apply(e, e.silu(this.norm1.apply(e, x)));
    if (this.timeEmbProj && temb) {
      const t = this.timeEmbProj.apply(e, e.silu(temb));
      h = e.add(h, e.reshape(t, [t.shape[0], 1, 1, t.shape[1]]));
    }
    h = this.conv2.apply(e, e.silu(this.norm2.apply(e, h)));
    return e.add(this.shortcut ? this.shortcut.apply(e, x) : x, h);
  }
}

/**
 * A 3×3 convolution with stride 2. padding 1 (the UNet): PyTorch's symmetric padding. padding 0
 * (the VAE encoder): F.pad(x, (0, 1, 0, 1)) first — one zero row and column after — as diffusers does.
 */
export class Downsample2D {
  private readonly conv: Conv2d;
  constructor(
    b: ModuleBuilder,
    name: string,
    channels: number,
    private readonly padding: number,
  ) {
    this.conv = new Conv2d(b, `${name}.conv`, channels, channels, 3, 2, padding);
  }
  apply(e: TensorEngine, x: Tensor): Tensor {
    return this.conv.apply(e, this.padding === 0 ? e.pad2d(x, 0, 1, 0, 1) : x);
  }
}

/** Nearest-neighbour ×2 (or to the skip connection's size) then a 3×3 convolution. */
export class Upsample2D {
  private readonly conv: Conv2d;
  constructor(b: ModuleBuilder, name: string, channels: number) {
    this.conv = new Conv2d(b, `${name}.conv`, channels, channels, 3, 1, 1);
  }
  /** `size`: the output [H, W] when it is not exactly twice the input (odd sizes on the way down). */
  apply(e: TensorEngine, x: Tensor, size?: [number, number]): Tensor {
    const [, h, w] = x.shape;
    const up = size && (size[0] !== 2 * h || size[1] !== 2 * w) ? e.resizeNearest(x, size[0], size[1]) : e.upsampleNearest(x, 2);
    return this.conv.apply(e, up);
  }
}
