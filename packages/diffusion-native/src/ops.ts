import type * as TF from '@tensorflow/tfjs';
import { BATCH_NORM_TRAIN_GRAD_KERNEL, BATCH_NORM_TRAIN_KERNEL, GELU_GRAD_KERNEL, GELU_KERNEL, NATIVE_BACKEND_NAME } from './backend.ts';

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
  if (tf.getGradient(GELU_KERNEL)) return;
  tf.registerGradient({
    kernelName: GELU_KERNEL,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.engine().runKernel(GELU_GRAD_KERNEL, { x: saved[0], dy: dy as TF.Tensor }) as TF.Tensor }),
  });
}

/** Exact GELU, x·Φ(x) = ½·x·(1 + erf(x/√2)) (Hendrycks & Gimpel 2016), as PyTorch's nn.GELU(). */
export function gelu<T extends TF.Tensor>(tf: Tf, x: T): T {
  if (tf.getBackend() === NATIVE_BACKEND_NAME && x.dtype === 'float32') {
    ensureGradient(tf);
    return tf.engine().runKernel(GELU_KERNEL, { x }) as T;
  }
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1))) as T;
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
