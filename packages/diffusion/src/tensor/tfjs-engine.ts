import * as tf from '@tensorflow/tfjs';
import type { AdamScalars, Padding, Tensor, TensorEngine, Variable } from './engine.ts';

/**
 * TensorEngine over TensorFlow.js. Works with any registered tfjs backend (wasm, cpu, webgl,
 * tensorflow); picking and initialising the backend is the job of backend-node.ts or the browser
 * entry, never of this file, so it runs in Node and in the browser.
 */
const T = (x: Tensor): tf.Tensor => x as unknown as tf.Tensor;
const W = (x: tf.Tensor): Tensor => x as unknown as Tensor;

const SQRT1_2 = Math.SQRT1_2;

/**
 * Fused ops a backend package may supply (the shape of @flashdiff/diffusion-native's `gelu` and
 * `batchNormTraining`). They are handed in by backend-node.ts rather than imported here, because that
 * package loads a Node addon and this file must stay browser-safe. Each computes exactly the formula
 * of the composite it replaces (exact erf GELU; batch statistics over all axes but the last).
 */
export interface TfjsFusedOps {
  gelu(tfModule: typeof tf, x: tf.Tensor): tf.Tensor;
  /** x·σ(x) (the formula of silu below), forward and backward fused. */
  silu?(tfModule: typeof tf, x: tf.Tensor): tf.Tensor;
  batchNormTraining(tfModule: typeof tf, x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor };
  /** GroupNorm of NHWC x (the formula of groupNorm below), forward and backward fused. */
  groupNorm?(tfModule: typeof tf, x: tf.Tensor, groups: number, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): tf.Tensor;
  /** LayerNorm over the last axis (the formula of layerNorm below), forward and backward fused. */
  layerNorm?(tfModule: typeof tf, x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): tf.Tensor;
  /** The optimiser's arithmetic as one kernel each (adamUpdate, sumOfSquares, emaUpdate below); null where the backend cannot serve the call. */
  adamUpdate?(tfModule: typeof tf, param: tf.Tensor, m: tf.Tensor, v: tf.Tensor, grad: tf.Tensor, scalars: AdamScalars): [tf.Tensor, tf.Tensor, tf.Tensor] | null;
  squareSum?(tfModule: typeof tf, xs: readonly tf.Tensor[]): tf.Tensor | null;
  emaUpdate?(tfModule: typeof tf, target: tf.Tensor, source: tf.Tensor, decay: number): tf.Tensor | null;
}

export interface TfjsEngineOptions {
  /** Replace the GELU and training-mode BatchNorm composites (see TfjsFusedOps). */
  fusedOps?: TfjsFusedOps;
  /**
   * The backend has fast, correct Conv2DBackpropInput and Conv2DBackpropFilter kernels (cpu, native,
   * tensorflow): use tfjs's own convolution gradients, and tf.fused.conv2d for convolution + bias.
   * Off (wasm), convolutions take the forward-kernel gradients of convWithFastGrads below.
   */
  backendConvGradients?: boolean;
}

export class TfjsEngine implements TensorEngine {
  readonly name: string;
  private readonly fusedOps: TfjsFusedOps | undefined;
  private readonly backendConvGradients: boolean;
  private readonly ownSoftmax: boolean;
  constructor(name = `tfjs-${tf.getBackend()}`, options: TfjsEngineOptions = {}) {
    this.name = name;
    this.fusedOps = options.fusedOps;
    this.backendConvGradients = options.backendConvGradients ?? false;
    // tfjs-backend-wasm and @flashdiff/diffusion-native have Softmax kernels of their own (native's:
    // 48 ms for 8×1024², against 190 ms composed below); tfjs-backend-cpu's is plain JavaScript.
    this.ownSoftmax = tf.getBackend() === 'wasm' || tf.getBackend() === 'native';
  }

  tensor(values: Float32Array, shape: readonly number[]): Tensor {
    return W(tf.tensor(values, shape as number[], 'float32'));
  }
  scalar(value: number): Tensor {
    return W(tf.scalar(value, 'float32'));
  }
  zeros(shape: readonly number[]): Tensor {
    return W(tf.zeros(shape as number[], 'float32'));
  }
  variable(initial: Tensor, name: string, trainable: boolean): Variable {
    // tfjs variable names are global: add a counter so two models can hold the same parameter names.
    return tf.variable(T(initial), trainable, `${name}#${nextVariableId++}`) as unknown as Variable;
  }
  readSync(x: Tensor): Float32Array {
    return T(x).dataSync() as Float32Array;
  }
  async read(x: Tensor): Promise<Float32Array> {
    return (await T(x).data()) as Float32Array;
  }
  tidy<R extends Tensor | Tensor[] | void | number>(fn: () => R): R {
    let plain: number | undefined;
    const out = tf.tidy(() => {
      const r = fn();
      if (typeof r === 'number') {
        plain = r;
        return undefined;
      }
      return r as unknown as tf.TensorContainer;
    });
    return (plain !== undefined ? plain : out) as R;
  }
  keep<R extends Tensor>(x: R): R {
    tf.keep(T(x));
    return x;
  }
  numTensors(): number {
    return tf.memory().numTensors;
  }

  valueAndGrads(loss: () => Tensor, variables: readonly Variable[]): { value: Tensor; grads: Tensor[] } {
    const { value, grads } = tf.variableGrads(() => T(loss()) as tf.Scalar, variables as unknown as tf.Variable[]);
    const list = variables.map((v) => {
      const g = grads[(v as unknown as tf.Variable).name];
      // A variable the loss does not touch gets a zero gradient, so optimiser state stays aligned.
      return g ? W(g) : W(tf.zerosLike(T(v)));
    });
    return { value: W(value), grads: list };
  }

  add(a: Tensor, b: Tensor): Tensor {
    return W(tf.add(T(a), T(b)));
  }
  sub(a: Tensor, b: Tensor): Tensor {
    return W(tf.sub(T(a), T(b)));
  }
  mul(a: Tensor, b: Tensor): Tensor {
    return W(tf.mul(T(a), T(b)));
  }
  div(a: Tensor, b: Tensor): Tensor {
    return W(tf.div(T(a), T(b)));
  }
  addScalar(a: Tensor, s: number): Tensor {
    return W(tf.add(T(a), tf.scalar(s)));
  }
  mulScalar(a: Tensor, s: number): Tensor {
    return W(tf.mul(T(a), tf.scalar(s)));
  }
  square(x: Tensor): Tensor {
    return W(tf.square(T(x)));
  }
  sqrt(x: Tensor): Tensor {
    return W(tf.sqrt(T(x)));
  }
  exp(x: Tensor): Tensor {
    return W(tf.exp(T(x)));
  }
  sin(x: Tensor): Tensor {
    return W(tf.sin(T(x)));
  }
  cos(x: Tensor): Tensor {
    return W(tf.cos(T(x)));
  }
  relu(x: Tensor): Tensor {
    return W(tf.relu(T(x)));
  }
  sigmoid(x: Tensor): Tensor {
    return W(tf.sigmoid(T(x)));
  }
  gelu(x: Tensor): Tensor {
    if (this.fusedOps) return W(this.fusedOps.gelu(tf, T(x)));
    return W(
      tf.tidy(() => {
        const xt = T(x);
        return tf.mul(tf.mul(xt, 0.5), tf.add(tf.erf(tf.mul(xt, SQRT1_2)), 1));
      }),
    );
  }
  silu(x: Tensor): Tensor {
    if (this.fusedOps?.silu) return W(this.fusedOps.silu(tf, T(x)));
    return W(tf.tidy(() => tf.mul(T(x), tf.sigmoid(T(x)))));
  }

  mean(x: Tensor, axes?: number[], keepDims = false): Tensor {
    return W(tf.mean(T(x), axes, keepDims));
  }
  sum(x: Tensor, axes?: number[], keepDims = false): Tensor {
    return W(tf.sum(T(x), axes, keepDims));
  }

  reshape(x: Tensor, shape: readonly number[]): Tensor {
    return W(tf.reshape(T(x), shape as number[]));
  }
  transpose(x: Tensor, perm: readonly number[]): Tensor {
    return W(tf.transpose(T(x), perm as number[]));
  }
  concat(xs: Tensor[], axis: number): Tensor {
    return W(tf.concat(xs.map(T), axis));
  }
  slice(x: Tensor, begin: readonly number[], size: readonly number[]): Tensor {
    return W(tf.slice(T(x), begin as number[], size as number[]));
  }
  gather(table: Tensor, indices: Int32Array): Tensor {
    // tfjs's GatherV2 gradient needs UnsortedSegmentSum, which tfjs-backend-wasm lacks; the gradient
    // here is the same sum written as a product: d table = onehot(indices)ᵀ · dy.
    const [rows] = table.shape;
    const op = tf.customGrad(((t: tf.Tensor2D, save: tf.GradSaveFunc) => {
      save([]);
      return {
        value: tf.gather(t, tf.tensor1d(indices, 'int32'), 0),
        gradFunc: (dy: tf.Tensor2D) => {
          const onehot = new Float32Array(indices.length * rows);
          indices.forEach((row, i) => (onehot[i * rows + row] = 1));
          return [tf.matMul(tf.tensor2d(onehot, [indices.length, rows]), dy, true, false)];
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    return W(op(T(table)) as tf.Tensor);
  }

  matMul(a: Tensor, b: Tensor, transposeA = false, transposeB = false): Tensor {
    return W(tf.matMul(T(a), T(b), transposeA, transposeB));
  }
  conv2d(x: Tensor, filter: Tensor, stride: number, padding: Padding, bias?: Tensor): Tensor {
    const xt = T(x) as tf.Tensor4D;
    const ft = T(filter) as tf.Tensor4D;
    if (this.backendConvGradients) {
      // One FusedConv2D kernel (bias added inside); its gradient is Conv2DBackpropInput,
      // Conv2DBackpropFilter and Σ dy over N, H, W for the bias.
      if (bias) return W(tf.fused.conv2d({ x: xt, filter: ft, bias: T(bias), strides: stride, pad: padding }));
      return W(tf.conv2d(xt, ft, stride, padding));
    }
    if (!bias) return W(convWithFastGrads(xt, ft, stride, padding));
    return W(tf.tidy(() => tf.add(convWithFastGrads(xt, ft, stride, padding), T(bias))));
  }
  conv2dTranspose(x: Tensor, filter: Tensor, outShape: readonly number[], stride: number, padding: Padding): Tensor {
    const [kh, kw, outChannels, inChannels] = filter.shape;
    if (kh === stride && kw === stride && padding === 'valid') {
      // Non-overlapping case (kernel = stride): each input pixel becomes one k×k output patch,
      // y[n, h·k+i, w·k+j, o] = Σ_c x[n, h, w, c]·W[i, j, o, c] — one matMul plus a re-layout.
      // Its gradients are matMul/transpose gradients, which are fast on every backend.
      return W(
        tf.tidy(() => {
          const [n, h, w] = x.shape;
          const weights = tf.reshape(tf.transpose(T(filter), [3, 0, 1, 2]), [inChannels, kh * kw * outChannels]);
          const y = tf.matMul(tf.reshape(T(x), [n * h * w, inChannels]), weights);
          const blocks = tf.transpose(tf.reshape(y, [n, h, w, kh, kw, outChannels]), [0, 1, 3, 2, 4, 5]);
          return tf.reshape(blocks, outShape as number[]);
        }),
      );
    }
    return W(
      tf.conv2dTranspose(T(x) as tf.Tensor4D, T(filter) as tf.Tensor4D, outShape as [number, number, number, number], stride, padding),
    );
  }
  maxPool(x: Tensor, size: number): Tensor {
    return W(tf.maxPool(T(x) as tf.Tensor4D, size, size, 'valid'));
  }
  avgPool(x: Tensor, size: number): Tensor {
    return W(tf.avgPool(T(x) as tf.Tensor4D, size, size, 'valid'));
  }
  upsampleNearest(x: Tensor, factor: number): Tensor {
    const [n, h, w, c] = x.shape;
    // tfjs's ResizeNearestNeighborGrad is wrong here (finite differences disagree by O(1) on a
    // 2×4×4×4 input; it silently broke training through every upsampler), so the integer-factor
    // case gets its exact adjoint: each input pixel's gradient is the sum of its f×f output block.
    const op = tf.customGrad(((input: tf.Tensor) => ({
      value: tf.image.resizeNearestNeighbor(input as tf.Tensor4D, [h * factor, w * factor]),
      gradFunc: (dy: tf.Tensor) => [tf.sum(tf.reshape(dy, [n, h, factor, w, factor, c]), [2, 4])],
    })) as unknown as Parameters<typeof tf.customGrad>[0]);
    return W(op(T(x)) as tf.Tensor);
  }
  resizeNearest(x: Tensor, height: number, width: number): Tensor {
    const [n, h, w, c] = x.shape;
    // alignCorners false, halfPixelCenters false: src = ⌊dst · in/out⌋, PyTorch's legacy 'nearest'.
    // The forward is tfjs's; its ResizeNearestNeighborGrad is the one upsampleNearest had to replace
    // (wrong against finite differences), so the gradient is the exact adjoint: with the one-hot
    // selections R [height, h] (R[i, ⌊i·h/height⌋] = 1) and C [width, w], y = R·x·Cᵀ per image and
    // channel, so dx = Rᵀ·dy·C — each input pixel gets the sum of dy over the outputs that copy it.
    // Two matMuls on [rows, n·cols·c] views, which every backend runs.
    const selection = (out: number, size: number): tf.Tensor2D => {
      const m = new Float32Array(size * out);
      for (let i = 0; i < out; i++) m[Math.min(size - 1, Math.floor((i * size) / out)) * out + i] = 1;
      return tf.tensor2d(m, [size, out]); // Rᵀ: [in, out]
    };
    const op = tf.customGrad(((input: tf.Tensor) => ({
      value: tf.image.resizeNearestNeighbor(input as tf.Tensor4D, [height, width]),
      gradFunc: (dy: tf.Tensor) => {
        const rowsT = selection(height, h);
        const colsT = selection(width, w);
        // [height, n·width·c] → Rᵀ· → [h, n, width, c]
        const byRow = tf.matMul(rowsT, tf.reshape(tf.transpose(tf.reshape(dy, [n, height, width * c]), [1, 0, 2]), [height, n * width * c]));
        // [width, h·n·c] → Cᵀ· → [w, h, n, c] → [n, h, w, c]
        const byCol = tf.matMul(colsT, tf.reshape(tf.transpose(tf.reshape(byRow, [h, n, width, c]), [2, 0, 1, 3]), [width, h * n * c]));
        return [tf.transpose(tf.reshape(byCol, [w, h, n, c]), [2, 1, 0, 3])];
      },
    })) as unknown as Parameters<typeof tf.customGrad>[0]);
    return W(op(T(x)) as tf.Tensor);
  }
  pad2d(x: Tensor, top: number, bottom: number, left: number, right: number): Tensor {
    return W(tf.pad(T(x), [[0, 0], [top, bottom], [left, right], [0, 0]]));
  }
  softmax(x: Tensor): Tensor {
    // tfjs-backend-cpu's Softmax kernel runs its reductions in plain JavaScript: 150 ms for CLIP's
    // 24×77×77 scores, 9 s for 8×1024² (16 ms and 0.16 s this way). The same formula from kernels a
    // backend may accelerate, softmax(x) = e^(x − max x)/Σ e^(x − max x), with the softmax's own
    // gradient dx = y ⊙ (dy − Σ dy ⊙ y), so nothing flows through the max.
    if (this.ownSoftmax) return W(tf.softmax(T(x)));
    const op = tf.customGrad(((logits: tf.Tensor, save: tf.GradSaveFunc) => {
      const shifted = tf.exp(tf.sub(logits, tf.max(logits, -1, true)));
      const y = tf.div(shifted, tf.sum(shifted, -1, true));
      save([y]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [out] = saved as [tf.Tensor];
          return [tf.mul(out, tf.sub(dy, tf.sum(tf.mul(dy, out), -1, true)))];
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    return W(op(T(x)) as tf.Tensor);
  }
  logSoftmax(x: Tensor): Tensor {
    return W(tf.logSoftmax(T(x)));
  }

  groupNorm(x: Tensor, groups: number, gamma: Tensor, beta: Tensor, epsilon: number): Tensor {
    if (this.fusedOps?.groupNorm) return W(this.fusedOps.groupNorm(tf, T(x), groups, T(gamma), T(beta), epsilon));
    return W(
      tf.tidy(() => {
        const [n, h, w, c] = x.shape;
        // Split channels into groups: [N, H, W, G, C/G]; statistics over H, W and C/G (Wu & He 2018, eq. 1–3).
        const grouped = tf.reshape(T(x), [n, h, w, groups, c / groups]);
        const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
        const normalised = tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, epsilon)));
        return tf.add(tf.mul(tf.reshape(normalised, [n, h, w, c]), T(gamma)), T(beta));
      }),
    );
  }
  layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, epsilon: number): Tensor {
    if (this.fusedOps?.layerNorm) return W(this.fusedOps.layerNorm(tf, T(x), T(gamma), T(beta), epsilon));
    return W(
      tf.tidy(() => {
        const last = x.shape.length - 1;
        const { mean, variance } = tf.moments(T(x), [last], true);
        const normalised = tf.mul(tf.sub(T(x), mean), tf.rsqrt(tf.add(variance, epsilon)));
        return tf.add(tf.mul(normalised, T(gamma)), T(beta));
      }),
    );
  }
  moments(x: Tensor): { mean: Tensor; variance: Tensor } {
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    const { mean, variance } = tf.moments(T(x), axes);
    return { mean: W(mean), variance: W(variance) };
  }
  batchNorm(x: Tensor, mean: Tensor, variance: Tensor, gamma: Tensor, beta: Tensor, epsilon: number): Tensor {
    // tf.batchNorm is one FusedBatchNorm kernel on wasm, cpu and native: (x − μ)/√(σ² + ε)·γ + β.
    const channels = x.shape[x.shape.length - 1];
    return W(
      tf.tidy(() =>
        tf.batchNorm(
          T(x),
          tf.reshape(T(mean), [channels]) as tf.Tensor1D,
          tf.reshape(T(variance), [channels]) as tf.Tensor1D,
          tf.reshape(T(beta), [channels]) as tf.Tensor1D,
          tf.reshape(T(gamma), [channels]) as tf.Tensor1D,
          epsilon,
        ),
      ),
    );
  }
  batchNormTraining(x: Tensor, gamma: Tensor, beta: Tensor, epsilon: number): { y: Tensor; mean: Tensor; variance: Tensor } {
    if (this.fusedOps) {
      const { y, mean, variance } = this.fusedOps.batchNormTraining(tf, T(x), T(gamma), T(beta), epsilon);
      return { y: W(y), mean: W(mean), variance: W(variance) };
    }
    const { mean, variance } = this.moments(x);
    return { y: this.batchNorm(x, mean, variance, gamma, beta, epsilon), mean, variance };
  }

  adamUpdate(param: Tensor, m: Tensor, v: Tensor, grad: Tensor, s: AdamScalars): [Tensor, Tensor, Tensor] {
    const fused = this.fusedOps?.adamUpdate?.(tf, T(param), T(m), T(v), T(grad), s);
    if (fused) return fused.map(W) as [Tensor, Tensor, Tensor];
    return tf.tidy(() => {
      const g = s.gradScale === 1 ? T(grad) : tf.mul(T(grad), tf.scalar(s.gradScale));
      const m1 = tf.add(tf.mul(T(m), tf.scalar(s.beta1)), tf.mul(g, tf.scalar(s.oneMinusBeta1)));
      const v1 = tf.add(tf.mul(T(v), tf.scalar(s.beta2)), tf.mul(tf.square(g), tf.scalar(s.oneMinusBeta2)));
      const update = tf.div(tf.mul(m1, tf.scalar(s.stepSize)), tf.add(tf.sqrt(tf.mul(v1, tf.scalar(s.inverseCorrection2))), tf.scalar(s.epsilon)));
      return [tf.sub(T(param), update), m1, v1];
    }).map(W) as [Tensor, Tensor, Tensor];
  }
  sumOfSquares(xs: readonly Tensor[]): Tensor {
    const fused = this.fusedOps?.squareSum?.(tf, xs.map(T));
    if (fused) return W(fused);
    return W(tf.tidy(() => tf.add(xs.map((x) => tf.sum(tf.square(T(x)))).reduce((a, b) => tf.add(a, b)), tf.scalar(0))));
  }
  emaUpdate(target: Tensor, source: Tensor, decay: number): Tensor {
    const fused = this.fusedOps?.emaUpdate?.(tf, T(target), T(source), decay);
    if (fused) return W(fused);
    return W(tf.tidy(() => tf.add(tf.mul(T(target), tf.scalar(decay)), tf.mul(T(source), tf.scalar(1 - decay)))));
  }
}

let nextVariableId = 0;

/**
 * Convolution with gradients written in terms of forward kernels. tfjs-backend-wasm runs Conv2D
 * through XNNPACK, but it has no Conv2DBackpropFilter at all and its Conv2DBackpropInput is a plain
 * loop (10–30× slower), so the gradients tfjs would use are replaced:
 *   dx = conv2d(dy, W rotated 180° with in/out channels swapped, same)   (stride 1: the adjoint)
 *      = conv2dTranspose(dy, W)                                           (stride > 1: tfjs's own)
 *   dW[i, j, c, o] = Σ_{n,h,w} x_pad[n, h·s + i, w·s + j, c]·dy[n, h, w, o]
 *      = a valid convolution of x_pad (channels as batch, batch as channels) with dy as the
 *        filter, dilated by the stride; its k×k output is dW.
 * Padding follows TensorFlow's 'same': total = max((out−1)·s + k − in, 0), the smaller half first.
 */
function convWithFastGrads(x: tf.Tensor4D, filter: tf.Tensor4D, stride: number, padding: Padding): tf.Tensor4D {
  const op = tf.customGrad(((xs: tf.Tensor4D, w: tf.Tensor4D, save: tf.GradSaveFunc) => {
    save([xs, w]);
    return {
      value: tf.conv2d(xs, w, stride, padding),
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [input, weights] = saved as [tf.Tensor4D, tf.Tensor4D];
        const [k, kw, inChannels, outChannels] = weights.shape;
        const [n, h, wd] = input.shape;
        const [, oh, ow] = dy.shape;
        const dx =
          stride === 1 && padding === 'same' && k === kw && k % 2 === 1
            ? tf.conv2d(dy, tf.transpose(tf.reverse(weights, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D, 1, 'same')
            : stride === 1 && k === 1 && kw === 1
              ? tf.conv2d(dy, tf.transpose(weights, [0, 1, 3, 2]) as tf.Tensor4D, 1, 'valid')
              : tf.conv2dTranspose(dy, weights, [n, h, wd, inChannels], stride, padding);
        const padTotal = (outSide: number, inSide: number, kSide: number): number => (padding === 'same' ? Math.max((outSide - 1) * stride + kSide - inSide, 0) : 0);
        const ph = padTotal(oh, h, k);
        const pw = padTotal(ow, wd, kw);
        let padded: tf.Tensor4D = input;
        if (ph > 0 || pw > 0) padded = tf.pad(input, [[0, 0], [Math.floor(ph / 2), ph - Math.floor(ph / 2)], [Math.floor(pw / 2), pw - Math.floor(pw / 2)], [0, 0]]);
        let dw: tf.Tensor;
        if (k === 1 && kw === 1 && stride === 1) {
          dw = tf.reshape(tf.matMul(tf.reshape(padded, [n * h * wd, inChannels]), tf.reshape(dy, [n * oh * ow, outChannels]), true, false), [1, 1, inChannels, outChannels]);
        } else {
          const asBatch = tf.transpose(padded, [3, 1, 2, 0]) as tf.Tensor4D;
          const asFilter = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;
          const full = tf.conv2d(asBatch, asFilter, 1, 'valid', 'NHWC', stride);
          // 'valid' rows that no output window reaches make the result larger than k×k: drop them.
          const trimmed = full.shape[1] === k && full.shape[2] === kw ? full : tf.slice(full, [0, 0, 0, 0], [inChannels, k, kw, outChannels]);
          dw = tf.transpose(trimmed, [1, 2, 0, 3]);
        }
        return [dx, dw];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x, filter) as tf.Tensor4D;
}
