import * as tf from '@tensorflow/tfjs';
import { batchNormTraining, gelu as fusedGelu } from '@flashdiff/diffusion-native';

/**
 * The reference ContextUnet (DeepLearning.AI sprites course; see bench/torch_reference.py for the
 * PyTorch twin) written directly in tfjs ops, NHWC, for the benchmarks. By default it issues the
 * same op sequence as packages/diffusion's TfjsEngine (GELU as ½x(1+erf(x/√2)) from tf ops, batch
 * norm as (x−μ)/√(σ²+ε)·γ+β from tf ops); with `fused` it uses tf.fused.conv2d (bias inside the convolution), this package's one-kernel GELU and
 * batchNormTraining (one kernel forward, one backward) / tf.batchNorm in eval mode, which is what an engine should call on 'native'.
 */
export interface ModelOptions {
  inChannels: number;
  nFeat: number;
  nCfeat: number;
  height: number;
  fused: boolean;
}

type Params = Map<string, tf.Variable>;

function uniform(shape: number[], bound: number, seed: number): tf.Tensor {
  return tf.randomUniform(shape, -bound, bound, 'float32', seed);
}

export class BenchContextUnet {
  readonly params: Params = new Map();
  private seed = 1;
  constructor(readonly options: ModelOptions) {
    const { inChannels: c, nFeat: n, nCfeat } = options;
    this.block('init', c, n, true);
    this.block('down1.0', n, n, false);
    this.block('down1.1', n, n, false);
    this.block('down2.0', n, 2 * n, false);
    this.block('down2.1', 2 * n, 2 * n, false);
    this.embed('temb1', 1, 2 * n);
    this.embed('temb2', 1, n);
    this.embed('cemb1', nCfeat, 2 * n);
    this.embed('cemb2', nCfeat, n);
    const k0 = options.height / 4;
    this.variable('up0.w', [k0, k0, 2 * n, 2 * n], 1 / Math.sqrt(2 * n * k0 * k0));
    this.variable('up0.b', [2 * n], 1 / Math.sqrt(2 * n * k0 * k0));
    this.norm('up0.gn', 2 * n);
    this.variable('up1.w', [2, 2, n, 4 * n], 1 / Math.sqrt(n * 4));
    this.variable('up1.b', [n], 1 / Math.sqrt(n * 4));
    this.block('up1.0', n, n, false);
    this.block('up1.1', n, n, false);
    this.variable('up2.w', [2, 2, n, 2 * n], 1 / Math.sqrt(n * 4));
    this.variable('up2.b', [n], 1 / Math.sqrt(n * 4));
    this.block('up2.0', n, n, false);
    this.block('up2.1', n, n, false);
    this.conv('out.conv1', 2 * n, n, 3);
    this.norm('out.gn', n);
    this.conv('out.conv2', n, c, 3);
  }

  private variable(name: string, shape: number[], bound: number | 'ones' | 'zeros'): void {
    const init = bound === 'ones' ? tf.ones(shape) : bound === 'zeros' ? tf.zeros(shape) : uniform(shape, bound, this.seed++);
    this.params.set(name, tf.variable(init, true, `bench.${name}.${this.seed++}`));
    init.dispose();
  }
  private conv(name: string, inC: number, outC: number, k: number): void {
    const bound = 1 / Math.sqrt(inC * k * k);
    this.variable(`${name}.w`, [k, k, inC, outC], bound);
    this.variable(`${name}.b`, [outC], bound);
  }
  private norm(name: string, channels: number): void {
    this.variable(`${name}.gamma`, [channels], 'ones');
    this.variable(`${name}.beta`, [channels], 'zeros');
  }
  private block(name: string, inC: number, outC: number, residual: boolean): void {
    this.conv(`${name}.conv1`, inC, outC, 3);
    this.norm(`${name}.bn1`, outC);
    this.conv(`${name}.conv2`, outC, outC, 3);
    this.norm(`${name}.bn2`, outC);
    if (residual && inC !== outC) this.conv(`${name}.shortcut`, inC, outC, 1);
  }
  private embed(name: string, inDim: number, outDim: number): void {
    this.variable(`${name}.fc1.w`, [inDim, outDim], 1 / Math.sqrt(inDim));
    this.variable(`${name}.fc1.b`, [outDim], 1 / Math.sqrt(inDim));
    this.variable(`${name}.fc2.w`, [outDim, outDim], 1 / Math.sqrt(outDim));
    this.variable(`${name}.fc2.b`, [outDim], 1 / Math.sqrt(outDim));
  }

  private p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`bench model: no parameter ${name}`);
    return v;
  }
  private gelu(x: tf.Tensor): tf.Tensor {
    if (this.options.fused) return fusedGelu(tf, x);
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
  }
  private convApply(name: string, x: tf.Tensor4D, k: number): tf.Tensor4D {
    if (this.options.fused) {
      return tf.fused.conv2d({ x, filter: this.p(`${name}.w`) as tf.Tensor4D, bias: this.p(`${name}.b`), strides: 1, pad: k === 1 ? 'valid' : 'same' });
    }
    return tf.add(tf.conv2d(x, this.p(`${name}.w`) as tf.Tensor4D, 1, k === 1 ? 'valid' : 'same'), this.p(`${name}.b`));
  }
  private batchNorm(name: string, x: tf.Tensor4D, training: boolean): tf.Tensor4D {
    const gamma = this.p(`${name}.gamma`);
    const beta = this.p(`${name}.beta`);
    if (this.options.fused && training) return batchNormTraining(tf, x, gamma, beta, 1e-5).y as tf.Tensor4D;
    // Eval mode uses running statistics; the bench keeps them at their initial 0 / 1.
    const { mean, variance } = training ? tf.moments(x, [0, 1, 2]) : { mean: tf.zeros([x.shape[3]]), variance: tf.ones([x.shape[3]]) };
    if (this.options.fused) return tf.batchNorm(x, mean, variance, beta, gamma, 1e-5) as tf.Tensor4D;
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), gamma), beta);
  }
  private groupNorm(name: string, x: tf.Tensor4D, groups: number): tf.Tensor4D {
    const [n, h, w, c] = x.shape;
    const grouped = tf.reshape(x, [n, h, w, groups, c / groups]);
    const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
    const normalised = tf.reshape(tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, 1e-5))), [n, h, w, c]);
    return tf.add(tf.mul(normalised, this.p(`${name}.gamma`)), this.p(`${name}.beta`));
  }
  private block4(name: string, x: tf.Tensor4D, residual: boolean, training: boolean): tf.Tensor4D {
    const x1 = this.gelu(this.batchNorm(`${name}.bn1`, this.convApply(`${name}.conv1`, x, 3), training)) as tf.Tensor4D;
    const x2 = this.gelu(this.batchNorm(`${name}.bn2`, this.convApply(`${name}.conv2`, x1, 3), training)) as tf.Tensor4D;
    if (!residual) return x2;
    const skip = this.params.has(`${name}.shortcut.w`) ? this.convApply(`${name}.shortcut`, x, 1) : x;
    return tf.mul(tf.add(skip, x2), 1 / 1.414);
  }
  private embedApply(name: string, x: tf.Tensor2D): tf.Tensor2D {
    const h = this.gelu(tf.add(tf.matMul(x, this.p(`${name}.fc1.w`) as tf.Tensor2D), this.p(`${name}.fc1.b`))) as tf.Tensor2D;
    return tf.add(tf.matMul(h, this.p(`${name}.fc2.w`) as tf.Tensor2D), this.p(`${name}.fc2.b`));
  }
  private convTranspose(name: string, x: tf.Tensor4D, k: number, outC: number): tf.Tensor4D {
    const [n, h, w] = x.shape;
    const y = tf.conv2dTranspose(x, this.p(`${name}.w`) as tf.Tensor4D, [n, h * k, w * k, outC], k, 'valid');
    return tf.add(y, this.p(`${name}.b`));
  }

  /** x: [N, H, W, C]; t: [N, 1] (t/T); c: [N, nCfeat]. Returns ε̂, [N, H, W, C]. */
  forward(x: tf.Tensor4D, t: tf.Tensor2D, c: tf.Tensor2D, training: boolean): tf.Tensor4D {
    const { nFeat: nf, height } = this.options;
    const n = x.shape[0];
    const h0 = this.block4('init', x, true, training);
    const d1 = tf.maxPool(this.block4('down1.1', this.block4('down1.0', h0, false, training), false, training), 2, 2, 'valid');
    const d2 = tf.maxPool(this.block4('down2.1', this.block4('down2.0', d1, false, training), false, training), 2, 2, 'valid');
    const hidden = this.gelu(tf.avgPool(d2, height / 4, height / 4, 'valid')) as tf.Tensor4D;
    const cemb1 = tf.reshape(this.embedApply('cemb1', c), [n, 1, 1, 2 * nf]);
    const temb1 = tf.reshape(this.embedApply('temb1', t), [n, 1, 1, 2 * nf]);
    const cemb2 = tf.reshape(this.embedApply('cemb2', c), [n, 1, 1, nf]);
    const temb2 = tf.reshape(this.embedApply('temb2', t), [n, 1, 1, nf]);
    const u1 = tf.relu(this.groupNorm('up0.gn', this.convTranspose('up0', hidden, height / 4, 2 * nf), 8));
    const up = (name: string, y: tf.Tensor4D, skip: tf.Tensor4D): tf.Tensor4D => {
      const z = this.convTranspose(name, tf.concat([y, skip], 3), 2, nf);
      return this.block4(`${name}.1`, this.block4(`${name}.0`, z, false, training), false, training);
    };
    const u2 = up('up1', tf.add(tf.mul(cemb1, u1), temb1), d2);
    const u3 = up('up2', tf.add(tf.mul(cemb2, u2), temb2), d1);
    const out = tf.relu(this.groupNorm('out.gn', this.convApply('out.conv1', tf.concat([u3, h0], 3), 3), 8));
    return this.convApply('out.conv2', out, 3);
  }

  parameterCount(): number {
    let total = 0;
    for (const v of this.params.values()) total += v.size;
    return total;
  }
}
