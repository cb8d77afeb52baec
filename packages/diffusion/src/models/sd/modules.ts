/**
 * The parameterised building blocks of the Stable Diffusion models — Linear, Conv2d, GroupNorm,
 * LayerNorm, Embedding — the torch.nn layers that diffusers' and transformers' model files are made
 * of. Each creates its parameters in a `ParameterStore` under the PyTorch state-dict name and
 * records the tensor's PyTorch layout, so that `torchShape`/`fromTorch`/`toTorch` (weights.ts) can
 * move weights between diffusers' files and the seam's layouts without a per-model table.
 *
 * Layouts: the seam keeps conv filters as [kh, kw, in, out] and linear weights as [in, out]
 * (a matMul's right operand); PyTorch keeps them as [out, in, kh, kw] and [out, in].
 *
 * Initialisation follows PyTorch's defaults (Linear and Conv2d: U(−1/√fanIn, 1/√fanIn) for weight
 * and bias; norms: γ = 1, β = 0), except embeddings, which use N(0, 0.02²) as CLIP does
 * (transformers' CLIPTextEmbeddings `initializer_range`), so a model trained from scratch starts
 * where the reference would.
 */
import type { ParameterStore } from '../parameters.ts';
import type { Tensor, TensorEngine } from '../../tensor/engine.ts';

export type TorchLayout = 'conv' | 'linear' | 'plain';

/** How a model's parameters start: random (to train) or zeros (about to be overwritten by a checkpoint). */
export interface ModelInitOptions {
  /** false: every parameter starts at zero, skipping the random draws (loading SD-1.5's 1.07 G values). */
  initialise?: boolean;
}

/**
 * Receives a cross-attention layer's probabilities softmax(Q·Kᵀ/√d) [B·heads, H·W, tokens] during a
 * forward pass, with the layer's head count and name.
 */
export type CrossAttentionProbe = (probabilities: Tensor, heads: number, layer: string) => void;

/** A ParameterStore plus each parameter's PyTorch layout: what every block is built with. */
export class ModuleBuilder {
  readonly layouts = new Map<string, TorchLayout>();
  /** Set while a trainer supervises the cross-attention maps (null otherwise: attention runs as usual). */
  crossAttentionProbe: CrossAttentionProbe | null = null;
  private readonly initialise: boolean;
  constructor(
    readonly store: ParameterStore,
    options: ModelInitOptions = {},
  ) {
    this.initialise = options.initialise ?? true;
  }

  create(name: string, shape: number[], init: Parameters<ParameterStore['create']>[2], layout: TorchLayout): void {
    this.store.create(name, shape, this.initialise ? init : { kind: 'zeros' });
    this.layouts.set(name, layout);
  }

  /** The tensor's shape in a PyTorch state dict. */
  torchShape(name: string): number[] {
    const shape = this.store.shapeOf(name);
    const layout = this.layouts.get(name) ?? 'plain';
    if (layout === 'conv') return [shape[3], shape[2], shape[0], shape[1]];
    if (layout === 'linear') return [shape[1], shape[0]];
    return shape.slice();
  }
}

export class Linear {
  constructor(
    private readonly b: ModuleBuilder,
    readonly name: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    private readonly bias = true,
  ) {
    const bound = 1 / Math.sqrt(inFeatures);
    b.create(`${name}.weight`, [inFeatures, outFeatures], { kind: 'uniform', bound }, 'linear');
    if (bias) b.create(`${name}.bias`, [outFeatures], { kind: 'uniform', bound }, 'plain');
  }
  /** y = x·W + b on the last axis of x (any rank ≥ 2). */
  apply(e: TensorEngine, x: Tensor): Tensor {
    const lead = x.shape.slice(0, -1);
    const rows = lead.reduce((a, c) => a * c, 1);
    let y = e.matMul(x.shape.length === 2 ? x : e.reshape(x, [rows, this.inFeatures]), this.b.store.get(`${this.name}.weight`));
    if (this.bias) y = e.add(y, this.b.store.get(`${this.name}.bias`));
    return x.shape.length === 2 ? y : e.reshape(y, [...lead, this.outFeatures]);
  }
}

export class Conv2d {
  constructor(
    private readonly b: ModuleBuilder,
    readonly name: string,
    inChannels: number,
    readonly outChannels: number,
    private readonly kernel: number,
    private readonly stride = 1,
    /** PyTorch's symmetric zero padding. */
    private readonly padding = 0,
  ) {
    const bound = 1 / Math.sqrt(inChannels * kernel * kernel);
    b.create(`${name}.weight`, [kernel, kernel, inChannels, outChannels], { kind: 'uniform', bound }, 'conv');
    b.create(`${name}.bias`, [outChannels], { kind: 'uniform', bound }, 'plain');
  }
  /** NHWC in and out. */
  apply(e: TensorEngine, x: Tensor): Tensor {
    const weight = this.b.store.get(`${this.name}.weight`);
    const bias = this.b.store.get(`${this.name}.bias`);
    const p = this.padding;
    // Stride 1 with p = (k − 1)/2 is TensorFlow's 'same'; anything else pads explicitly (TensorFlow's
    // 'same' at stride 2 would put the extra row at the bottom, PyTorch pads both sides).
    if (p === 0) return e.conv2d(x, weight, this.stride, 'valid', bias);
    if (this.stride === 1 && 2 * p === this.kernel - 1) return e.conv2d(x, weight, 1, 'same', bias);
    return e.conv2d(e.pad2d(x, p, p, p, p), weight, this.stride, 'valid', bias);
  }
}

export class GroupNorm {
  constructor(
    private readonly b: ModuleBuilder,
    readonly name: string,
    private readonly groups: number,
    channels: number,
    private readonly epsilon: number,
  ) {
    b.create(`${name}.weight`, [channels], { kind: 'ones' }, 'plain');
    b.create(`${name}.bias`, [channels], { kind: 'zeros' }, 'plain');
  }
  apply(e: TensorEngine, x: Tensor): Tensor {
    return e.groupNorm(x, this.groups, this.b.store.get(`${this.name}.weight`), this.b.store.get(`${this.name}.bias`), this.epsilon);
  }
}

export class LayerNorm {
  constructor(
    private readonly b: ModuleBuilder,
    readonly name: string,
    channels: number,
    private readonly epsilon: number,
  ) {
    b.create(`${name}.weight`, [channels], { kind: 'ones' }, 'plain');
    b.create(`${name}.bias`, [channels], { kind: 'zeros' }, 'plain');
  }
  apply(e: TensorEngine, x: Tensor): Tensor {
    return e.layerNorm(x, this.b.store.get(`${this.name}.weight`), this.b.store.get(`${this.name}.bias`), this.epsilon);
  }
}

export class Embedding {
  constructor(
    private readonly b: ModuleBuilder,
    readonly name: string,
    readonly rows: number,
    readonly width: number,
  ) {
    b.create(`${name}.weight`, [rows, width], { kind: 'normal', std: 0.02 }, 'plain');
  }
  /** [indices.length, width]. */
  apply(e: TensorEngine, indices: Int32Array): Tensor {
    return e.gather(this.b.store.get(`${this.name}.weight`), indices);
  }
}
