import type { Tensor, TensorEngine } from '../tensor/engine.ts';
import type { ParameterStore } from './parameters.ts';

/**
 * Building blocks shared by the models. Each block creates its parameters in its constructor
 * (PyTorch's default init: U(−1/√fanIn, 1/√fanIn) for weights and biases) and computes in `apply`.
 */

/** Forward-pass mode. In training, BatchNorm uses batch statistics and reports them in `batchStats`. */
export interface ForwardMode {
  training: boolean;
  batchStats?: Array<{ name: string; mean: Tensor; variance: Tensor }>;
}

export class Conv2d {
  constructor(
    private readonly params: ParameterStore,
    readonly name: string,
    inChannels: number,
    outChannels: number,
    private readonly kernel: number,
    private readonly stride = 1,
    private readonly bias = true,
  ) {
    const bound = 1 / Math.sqrt(inChannels * kernel * kernel);
    params.create(`${name}.weight`, [kernel, kernel, inChannels, outChannels], { kind: 'uniform', bound });
    if (bias) params.create(`${name}.bias`, [outChannels], { kind: 'uniform', bound });
  }
  apply(e: TensorEngine, x: Tensor): Tensor {
    // The bias goes into the convolution itself, so a backend with a fused conv + bias kernel uses it.
    const bias = this.bias ? this.params.get(`${this.name}.bias`) : undefined;
    return e.conv2d(x, this.params.get(`${this.name}.weight`), this.stride, this.kernel === 1 ? 'valid' : 'same', bias);
  }
}

/** ConvTranspose2d with kernel = stride and no padding: each input pixel becomes a k×k patch. */
export class ConvTranspose2d {
  constructor(
    private readonly params: ParameterStore,
    readonly name: string,
    inChannels: number,
    private readonly outChannels: number,
    private readonly kernel: number,
  ) {
    const bound = 1 / Math.sqrt(outChannels * kernel * kernel);
    params.create(`${name}.weight`, [kernel, kernel, outChannels, inChannels], { kind: 'uniform', bound });
    params.create(`${name}.bias`, [outChannels], { kind: 'uniform', bound });
  }
  apply(e: TensorEngine, x: Tensor): Tensor {
    const [n, h, w] = x.shape;
    const out = [n, h * this.kernel, w * this.kernel, this.outChannels];
    const y = e.conv2dTranspose(x, this.params.get(`${this.name}.weight`), out, this.kernel, 'valid');
    return e.add(y, this.params.get(`${this.name}.bias`));
  }
}

export class Dense {
  constructor(
    private readonly params: ParameterStore,
    readonly name: string,
    inFeatures: number,
    outFeatures: number,
    private readonly bias = true,
  ) {
    const bound = 1 / Math.sqrt(inFeatures);
    params.create(`${name}.weight`, [inFeatures, outFeatures], { kind: 'uniform', bound });
    if (bias) params.create(`${name}.bias`, [outFeatures], { kind: 'uniform', bound });
  }
  /** x: [..., inFeatures] with rank 2. */
  apply(e: TensorEngine, x: Tensor): Tensor {
    const y = e.matMul(x, this.params.get(`${this.name}.weight`));
    return this.bias ? e.add(y, this.params.get(`${this.name}.bias`)) : y;
  }
}

export class GroupNorm {
  constructor(
    private readonly params: ParameterStore,
    readonly name: string,
    private readonly groups: number,
    channels: number,
    private readonly epsilon = 1e-5,
  ) {
    params.create(`${name}.weight`, [channels], { kind: 'ones' });
    params.create(`${name}.bias`, [channels], { kind: 'zeros' });
  }
  apply(e: TensorEngine, x: Tensor): Tensor {
    return e.groupNorm(x, this.groups, this.params.get(`${this.name}.weight`), this.params.get(`${this.name}.bias`), this.epsilon);
  }
}

/**
 * BatchNorm2d (Ioffe & Szegedy 2015): batch statistics while training, running statistics
 * (momentum 0.1, unbiased variance — PyTorch's convention) otherwise.
 */
export class BatchNorm {
  constructor(
    private readonly params: ParameterStore,
    readonly name: string,
    channels: number,
    private readonly epsilon = 1e-5,
  ) {
    params.create(`${name}.weight`, [channels], { kind: 'ones' });
    params.create(`${name}.bias`, [channels], { kind: 'zeros' });
    params.create(`${name}.running_mean`, [channels], { kind: 'zeros' }, false);
    params.create(`${name}.running_var`, [channels], { kind: 'ones' }, false);
  }
  apply(e: TensorEngine, x: Tensor, mode: ForwardMode): Tensor {
    const gamma = this.params.get(`${this.name}.weight`);
    const beta = this.params.get(`${this.name}.bias`);
    if (!mode.training) {
      return e.batchNorm(x, this.params.get(`${this.name}.running_mean`), this.params.get(`${this.name}.running_var`), gamma, beta, this.epsilon);
    }
    // Batch statistics and normalisation in one op (fused on the native backend).
    const { y, mean, variance } = e.batchNormTraining(x, gamma, beta, this.epsilon);
    if (mode.batchStats) {
      const count = x.size / x.shape[x.shape.length - 1];
      mode.batchStats.push({
        name: this.name,
        mean: e.keep(mean),
        variance: e.keep(e.mulScalar(variance, count / Math.max(count - 1, 1))),
      });
    }
    return y;
  }
}

/** Apply recorded batch statistics to the running buffers: r ← (1−m)·r + m·batch. */
export function updateRunningStats(e: TensorEngine, params: ParameterStore, stats: ForwardMode['batchStats'], momentum = 0.1): void {
  if (!stats) return;
  for (const s of stats) {
    for (const [suffix, value] of [
      ['running_mean', s.mean],
      ['running_var', s.variance],
    ] as const) {
      const v = params.get(`${s.name}.${suffix}`);
      const updated = e.tidy(() => e.add(e.mulScalar(v, 1 - momentum), e.mulScalar(value, momentum)));
      v.assign(updated);
      updated.dispose();
      value.dispose();
    }
  }
  stats.length = 0;
}
