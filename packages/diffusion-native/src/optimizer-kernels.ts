/**
 * The optimiser's kernels on the 'native' backend: Adam's update of one parameter, the squared L2
 * norm of a list of gradients, and the EMA of one weight, each one addon call (native/optimizer.cc)
 * where the TensorEngine composite takes 3–11 tfjs kernels per parameter — about 4,000 kernel
 * calls a step for the text-to-image UNet's ~280 parameter tensors. Upstream counterpart: PyTorch's
 * fused Adam (aten/src/ATen/native/cpu/FusedAdamKernel.cpp). They compute the composite's float32
 * arithmetic operation for operation (see optimizer.cc), so results are bit for bit the same.
 */
import type * as TF from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from './addon.ts';
import { takeBuffer } from './pool.ts';
import { sizeOf } from './shapes.ts';

type TensorInfo = TF.TensorInfo;
type KernelFunc = TF.KernelFunc;

/** Adam: inputs {param, m, v, grad}, attrs {@link AdamScalars}; outputs [θ', m', v']. */
export const ADAM_KERNEL = 'FlashdiffAdam';
/** Σ over every input of Σ x²: inputs {0: x₀, 1: x₁, …}; output a float32 scalar. */
export const SQUARE_SUM_KERNEL = 'FlashdiffSquareSum';
/** EMA: inputs {target, source}, attrs {decay, oneMinusDecay}; output target·d + source·(1 − d). */
export const EMA_KERNEL = 'FlashdiffEma';

/** Adam's scalars for one step, as the composite uses them (each becomes a float32 operand). */
export interface AdamScalars {
  /** The global-norm clipping factor (1: no clipping, and no multiplication). */
  gradScale: number;
  beta1: number;
  oneMinusBeta1: number;
  beta2: number;
  oneMinusBeta2: number;
  /** lr / (1 − β₁ᵗ). */
  stepSize: number;
  /** 1 / (1 − β₂ᵗ). */
  inverseCorrection2: number;
  epsilon: number;
}

/** What backend.ts lends these kernels: its name, its view of a tensor's values and its profiling wrapper. */
export interface OptimizerKernelContext {
  backendName: string;
  values(backend: MathBackendCPU, t: TensorInfo): Float32Array;
  timed(name: string, fn: KernelFunc): KernelFunc;
}

/** Registers the three kernels on the native backend. */
export function registerOptimizerKernels(tf: typeof TF, addon: NativeAddon, { backendName, values, timed }: OptimizerKernelContext): void {
  const adam: KernelFunc = ({ inputs, backend, attrs }) => {
    const { param, m, v, grad } = inputs as Record<string, TensorInfo>;
    const s = attrs as unknown as AdamScalars;
    const cpu = backend as MathBackendCPU;
    const n = sizeOf(param.shape);
    const outParam = takeBuffer(n);
    const outM = takeBuffer(n);
    const outV = takeBuffer(n);
    addon.adamUpdate(values(cpu, param), values(cpu, m), values(cpu, v), values(cpu, grad), outParam, outM, outV,
      s.gradScale, s.beta1, s.oneMinusBeta1, s.beta2, s.oneMinusBeta2, s.stepSize, s.inverseCorrection2, s.epsilon);
    return [cpu.makeTensorInfo(param.shape, 'float32', outParam), cpu.makeTensorInfo(m.shape, 'float32', outM), cpu.makeTensorInfo(v.shape, 'float32', outV)];
  };
  const squareSum: KernelFunc = ({ inputs, backend }) => {
    const cpu = backend as MathBackendCPU;
    const cell = new Float32Array(1);
    // The composite adds the per-tensor float32 sums left to right in float32 (tf.add of scalars).
    let total = 0;
    for (const x of Object.values(inputs as Record<string, TensorInfo>)) {
      addon.squareSum(values(cpu, x), cell);
      total = Math.fround(total + cell[0]);
    }
    return cpu.makeTensorInfo([], 'float32', Float32Array.of(total));
  };
  const ema: KernelFunc = ({ inputs, backend, attrs }) => {
    const { target, source } = inputs as Record<string, TensorInfo>;
    const { decay, oneMinusDecay } = attrs as { decay: number; oneMinusDecay: number };
    const cpu = backend as MathBackendCPU;
    const out = takeBuffer(sizeOf(target.shape));
    addon.emaUpdate(values(cpu, target), values(cpu, source), out, decay, oneMinusDecay);
    return cpu.makeTensorInfo(target.shape, 'float32', out);
  };
  tf.registerKernel({ kernelName: ADAM_KERNEL, backendName, kernelFunc: timed(ADAM_KERNEL, adam) });
  tf.registerKernel({ kernelName: SQUARE_SUM_KERNEL, backendName, kernelFunc: timed(SQUARE_SUM_KERNEL, squareSum) });
  tf.registerKernel({ kernelName: EMA_KERNEL, backendName, kernelFunc: timed(EMA_KERNEL, ema) });
}
