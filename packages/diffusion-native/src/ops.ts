import type * as TF from '@tensorflow/tfjs';
import {
  BATCH_NORM_TRAIN_GRAD_KERNEL,
  BATCH_NORM_TRAIN_KERNEL,
  GELU_GRAD_KERNEL,
  GELU_KERNEL,
  GROUP_NORM_GRAD_KERNEL,
  GROUP_NORM_KERNEL,
  NATIVE_BACKEND_NAME,
  SILU_GRAD_KERNEL,
  SILU_KERNEL,
} from './backend.ts';
import { ADAM_KERNEL, type AdamScalars, EMA_KERNEL, SQUARE_SUM_KERNEL } from './optimizer-kernels.ts';

/**
 * Fused ops the native backend offers beyond tfjs's kernel set. Each one works on every backend:
 * on 'native' it is one addon call (forward and gradient), elsewhere it is the same formula
 * composed from tfjs ops, so a model can call it unconditionally.
 */
type Tf = typeof TF;

const registered = new WeakSet<object>();

function ensureGradient(tf: Tf): void {
  if (registered.has(tf)) return;
  registered.add(tf);
  for (const [kernel, gradient] of [[GELU_KERNEL, GELU_GRAD_KERNEL], [SILU_KERNEL, SILU_GRAD_KERNEL]]) {
    if (tf.getGradient(kernel)) continue;
    tf.registerGradient({
      kernelName: kernel,
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => ({ x: () => tf.engine().runKernel(gradient, { x: saved[0], dy: dy as TF.Tensor }) as TF.Tensor }),
    });
  }
}

/** Exact GELU, x·Φ(x) = ½·x·(1 + erf(x/√2)) (Hendrycks & Gimpel 2016), as PyTorch's nn.GELU(). */
export function gelu<T extends TF.Tensor>(tf: Tf, x: T): T {
  if (tf.getBackend() === NATIVE_BACKEND_NAME && x.dtype === 'float32') {
    ensureGradient(tf);
    return tf.engine().runKernel(GELU_KERNEL, { x }) as T;
  }
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1))) as T;
}

/** SiLU (swish), x·σ(x), as PyTorch's nn.SiLU(); elsewhere than 'native' tfjs's x·sigmoid(x). */
export function silu<T extends TF.Tensor>(tf: Tf, x: T): T {
  if (tf.getBackend() === NATIVE_BACKEND_NAME && x.dtype === 'float32') {
    ensureGradient(tf);
    return tf.engine().runKernel(SILU_KERNEL, { x }) as T;
  }
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x))) as T;
}

/**
 * Training-mode batch norm over every axis but the last (BatchNorm2d on NHWC): batch mean μ and
 * biased variance σ², y = (x − μ)/√(σ² + ε)·γ + β. Returns y (differentiable in x, γ, β — the
 * gradient includes the batch statistics' dependence on x) and μ, σ² for running-statistic updates.
 * On 'native' the forward is one addon call and the backward another, instead of the ~20
 * elementwise/reduction kernels tf.moments + tf.batchNorm and their gradients take.
 */
export function batchNormTraining(
  tf: Tf,
  x: TF.Tensor,
  gamma: TF.Tensor,
  beta: TF.Tensor,
  epsilon: number,
): { y: TF.Tensor; mean: TF.Tensor; variance: TF.Tensor } {
  const channels = x.shape[x.shape.length - 1];
  const usable =
    tf.getBackend() === NATIVE_BACKEND_NAME && x.dtype === 'float32' && x.size > 0 && gamma.size === channels && beta.size === channels;
  if (!usable) {
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    const { mean, variance } = tf.moments(x, axes);
    const y = tf.batchNorm(x, mean, variance, tf.reshape(beta, [channels]) as TF.Tensor1D, tf.reshape(gamma, [channels]) as TF.Tensor1D, epsilon);
    return { y, mean, variance };
  }
  let mean: TF.Tensor | undefined;
  let variance: TF.Tensor | undefined;
  const flatGamma = tf.reshape(gamma, [channels]);
  const flatBeta = tf.reshape(beta, [channels]);
  const forwardFunc = (xs: TF.Tensor, g: TF.Tensor, b: TF.Tensor, save: TF.GradSaveFunc) => {
    const [y, m, v] = tf.engine().runKernel(BATCH_NORM_TRAIN_KERNEL, { x: xs, gamma: g, beta: b }, { epsilon }) as TF.Tensor[];
    // customGrad disposes the forward's other tensors: keep the statistics, re-own them below.
    mean = tf.keep(m);
    variance = tf.keep(v);
    save([xs, g, m, v]);
    return {
      value: y,
      gradFunc: (dy: TF.Tensor, saved: TF.Tensor[]) => {
        const [sx, sg, sm, sv] = saved;
        return tf.engine().runKernel(BATCH_NORM_TRAIN_GRAD_KERNEL, { x: sx, dy, mean: sm, variance: sv, gamma: sg }, { epsilon }) as TF.Tensor[];
      },
    };
  };
  const forward = tf.customGrad(forwardFunc as unknown as Parameters<Tf['customGrad']>[0]);
  const y = forward(x, flatGamma, flatBeta);
  // Clones live in the caller's scope (tidy disposes them as usual); the kept originals go now.
  const keptMean = mean!;
  const keptVariance = variance!;
  const outMean = tf.clone(keptMean);
  const outVariance = tf.clone(keptVariance);
  keptMean.dispose();
  keptVariance.dispose();
  return { y, mean: outMean, variance: outVariance };
}

/**
 * The native GroupNorm kernel over x viewed as [rows, pixels, groups, channels/groups], with its
 * gradient in x, γ, β (one addon call each way instead of tf.moments' ~25 forward and backward
 * kernels). The statistics it saves for the backward are (mean, 1/√(σ² + ε)) per (row, group).
 */
function nativeGroupNorm(tf: Tf, x: TF.Tensor, gamma: TF.Tensor, beta: TF.Tensor, rows: number, groups: number, epsilon: number): TF.Tensor {
  const channels = x.shape[x.shape.length - 1];
  const attrs = { rows, groups, epsilon };
  const forwardFunc = (xs: TF.Tensor, g: TF.Tensor, b: TF.Tensor, save: TF.GradSaveFunc) => {
    const [y, mean, rstd] = tf.engine().runKernel(GROUP_NORM_KERNEL, { x: xs, gamma: g, beta: b }, attrs) as TF.Tensor[];
    save([xs, g, mean, rstd]);
    return {
      value: y,
      gradFunc: (dy: TF.Tensor, saved: TF.Tensor[]) => {
        const [sx, sg, sm, sr] = saved;
        return tf.engine().runKernel(GROUP_NORM_GRAD_KERNEL, { x: sx, dy, mean: sm, rstd: sr, gamma: sg }, attrs) as TF.Tensor[];
      },
    };
  };
  const forward = tf.customGrad(forwardFunc as unknown as Parameters<Tf['customGrad']>[0]);
  return tf.tidy(() => forward(x, tf.reshape(gamma, [channels]), tf.reshape(beta, [channels])));
}

function nativeUsable(tf: Tf, x: TF.Tensor, gamma: TF.Tensor, beta: TF.Tensor): boolean {
  const channels = x.shape[x.shape.length - 1];
  return tf.getBackend() === NATIVE_BACKEND_NAME && x.dtype === 'float32' && x.size > 0 && gamma.size === channels && beta.size === channels;
}

/**
 * GroupNorm (Wu & He 2018) of NHWC x: per sample, each of `groups` channel groups is normalised over
 * H, W and its channels (biased variance), then y = x̂·γ + β per channel — PyTorch's nn.GroupNorm.
 */
export function groupNorm(tf: Tf, x: TF.Tensor, groups: number, gamma: TF.Tensor, beta: TF.Tensor, epsilon: number): TF.Tensor {
  const channels = x.shape[x.shape.length - 1];
  if (x.rank === 4 && channels % groups === 0 && nativeUsable(tf, x, gamma, beta)) {
    return nativeGroupNorm(tf, x, gamma, beta, x.shape[0], groups, epsilon);
  }
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const grouped = tf.reshape(x, [n, h, w, groups, c / groups]);
    const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
    const normalised = tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, epsilon)));
    return tf.add(tf.mul(tf.reshape(normalised, [n, h, w, c]), tf.reshape(gamma, [c])), tf.reshape(beta, [c]));
  });
}

/** LayerNorm (Ba et al. 2016) over the last axis: (x − μ)/√(σ² + ε)·γ + β, biased variance — PyTorch's nn.LayerNorm(C). */
export function layerNorm(tf: Tf, x: TF.Tensor, gamma: TF.Tensor, beta: TF.Tensor, epsilon: number): TF.Tensor {
  const channels = x.shape[x.shape.length - 1];
  if (x.rank >= 1 && nativeUsable(tf, x, gamma, beta)) {
    return nativeGroupNorm(tf, x, gamma, beta, x.size / channels, 1, epsilon);
  }
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, [x.rank - 1], true);
    const normalised = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon)));
    return tf.add(tf.mul(normalised, tf.reshape(gamma, [channels])), tf.reshape(beta, [channels]));
  });
}

/**
 * Adam's update of one parameter as one native kernel: [θ', m', v'] from θ, m, v and the gradient
 * (the scalars: {@link AdamScalars}). Null when the backend is not 'native' or a tensor is not
 * float32 of θ's size: the caller then composes it from tfjs ops (TfjsEngine.adamUpdate), which gives
 * the same values bit for bit.
 */
export function nativeAdamUpdate(tf: Tf, param: TF.Tensor, m: TF.Tensor, v: TF.Tensor, grad: TF.Tensor, scalars: AdamScalars): [TF.Tensor, TF.Tensor, TF.Tensor] | null {
  if (tf.getBackend() !== NATIVE_BACKEND_NAME || ![param, m, v, grad].every((t) => t.dtype === 'float32' && t.size === param.size)) return null;
  return tf.engine().runKernel(ADAM_KERNEL, { param, m, v, grad }, scalars as unknown as TF.NamedAttrMap) as [TF.Tensor, TF.Tensor, TF.Tensor];
}

/** Σ over the tensors of Σ x² as one native kernel (a float32 scalar); null off 'native' or for a non-float32 tensor. */
export function nativeSquareSum(tf: Tf, tensors: readonly TF.Tensor[]): TF.Tensor | null {
  if (tf.getBackend() !== NATIVE_BACKEND_NAME || tensors.length === 0 || tensors.some((t) => t.dtype !== 'float32')) return null;
  return tf.engine().runKernel(SQUARE_SUM_KERNEL, Object.fromEntries(tensors.map((t, i) => [String(i), t]))) as TF.Tensor;
}

/** target·decay + source·(1 − decay) as one native kernel; null off 'native' or for mismatched tensors. */
export function nativeEmaUpdate(tf: Tf, target: TF.Tensor, source: TF.Tensor, decay: number): TF.Tensor | null {
  if (tf.getBackend() !== NATIVE_BACKEND_NAME || target.dtype !== 'float32' || source.dtype !== 'float32' || target.size !== source.size) return null;
  return tf.engine().runKernel(EMA_KERNEL, { target, source }, { decay, oneMinusDecay: 1 - decay }) as TF.Tensor;
}
