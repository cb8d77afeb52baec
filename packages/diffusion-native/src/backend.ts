import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type * as TF from '@tensorflow/tfjs';
import { CONV_ROUTES, type ConvRoute, type NativeAddon } from './addon.ts';
import { isOwned, markEscaped, releaseBuffer, takeBuffer } from './pool.ts';
import { allFloat, type Attrs, type KernelContext, type KernelOverride, type KernelParams, values } from './kernel-table.ts';
import { layoutKernels } from './layout-kernels.ts';
import { registerOptimizerKernels } from './optimizer-kernels.ts';
import { broadcastShape, foldBroadcast, foldReduce, sizeOf } from './shapes.ts';

/**
 * The tfjs backend 'native': tfjs-backend-cpu's MathBackendCPU (tensors live in JS typed arrays) with
 * every cpu kernel copied over and the hot ones replaced by the N-API addon — convolutions and their
 * two gradients (oneDNN or im2col + OpenBLAS), matrix products (OpenBLAS), broadcast elementwise
 * arithmetic, unary maths, reductions, pooling and batch norm (OpenMP loops). Each replacement checks
 * that it can serve the call (float32, NHWC, supported padding, foldable broadcast) and otherwise
 * hands the call to the cpu kernel it replaced, so behaviour never depends on which path ran.
 */
export const NATIVE_BACKEND_NAME = 'native';

type Tf = typeof TF;
type TensorInfo = TF.TensorInfo;
type KernelFunc = TF.KernelFunc;

export class NativeBackendCPU extends MathBackendCPU {
  constructor() {
    super();
    // tfjs-backend-cpu greets its first write in Node with advice to install tfjs-node (on stderr,
    // breaking CLIs' one-line errors); that advice is about the pure-JS backend, not this one.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }
  // Values handed to user code may be kept after the tensor is disposed: never recycle them.
  override readSync(dataId: object): TF.backend_util.BackendValues {
    const values = super.readSync(dataId);
    markEscaped(this.data.get(dataId).values);
    return values;
  }
  override async read(dataId: object): Promise<TF.backend_util.BackendValues> {
    return this.readSync(dataId);
  }
  override disposeData(dataId: object, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    const released = super.disposeData(dataId, force);
    if (released && values !== undefined && !this.data.has(dataId)) releaseBuffer(values);
    return released;
  }
}


/** The 17-int geometry the addon reads, from tfjs's Conv2DInfo (channels-last). */
function convGeometry(info: TF.backend_util.Conv2DInfo): Int32Array | null {
  if (info.dataFormat !== 'channelsLast') return null;
  const p = info.padInfo;
  if (p.top < 0 || p.left < 0 || p.bottom < 0 || p.right < 0) return null;
  return Int32Array.from([
    info.batchSize, info.inHeight, info.inWidth, info.inChannels,
    info.filterHeight, info.filterWidth, info.outChannels, info.outHeight, info.outWidth,
    info.strideHeight, info.strideWidth, p.top, p.left, p.bottom, p.right,
    info.dilationHeight, info.dilationWidth,
  ]);
}

/** A 1×1 convolution with stride 1, no dilation and no padding (NHWC): each output pixel is Wᵀ·x. */
function isPointwise(info: TF.backend_util.Conv2DInfo): boolean {
  const p = info.padInfo;
  return info.filterHeight === 1 && info.filterWidth === 1 && info.strideHeight === 1 && info.strideWidth === 1 &&
    info.dilationHeight === 1 && info.dilationWidth === 1 && p.top === 0 && p.left === 0 && p.bottom === 0 && p.right === 0 &&
    info.outHeight === info.inHeight && info.outWidth === info.inWidth;
}

const BINARY_OPS: Record<string, number> = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, SquaredDifference: 4, Maximum: 5, Minimum: 6 };
const UNARY_OPS: Record<string, number> = {
  Erf: 0, Exp: 1, Sqrt: 2, Rsqrt: 3, Relu: 4, Neg: 5, Square: 6, Sigmoid: 7, Tanh: 8, Abs: 9, Log: 10, Reciprocal: 12,
};
const UNARY_GELU = 11;
const UNARY_SILU = 13;
/** Custom kernels this package adds (see ops.ts): exact GELU and its gradient. */
export const GELU_KERNEL = 'FlashdiffGelu';
export const GELU_GRAD_KERNEL = 'FlashdiffGeluGrad';
/** SiLU, x·σ(x), and its gradient: one pass each instead of Sigmoid + Multiply and their five-kernel gradient. */
export const SILU_KERNEL = 'FlashdiffSilu';
export const SILU_GRAD_KERNEL = 'FlashdiffSiluGrad';
/** Training-mode batch norm over all axes but the last: outputs [y, mean, variance]; and its gradient [dx, dγ, dβ]. */
export const BATCH_NORM_TRAIN_KERNEL = 'FlashdiffBatchNormTrain';
export const BATCH_NORM_TRAIN_GRAD_KERNEL = 'FlashdiffBatchNormTrainGrad';
/** GroupNorm (and LayerNorm: one group, one pixel per row): outputs [y, mean, rstd]; and its gradient [dx, dγ, dβ]. */
export const GROUP_NORM_KERNEL = 'FlashdiffGroupNorm';
export const GROUP_NORM_GRAD_KERNEL = 'FlashdiffGroupNormGrad';

function kernels(ctx: KernelContext): Record<string, KernelOverride> {
  const { tf, addon } = ctx;
  const bu = tf.backend_util;

  const binary = (op: number, a: TensorInfo, b: TensorInfo, backend: MathBackendCPU): TensorInfo | null => {
    if (!allFloat(a, b)) return null;
    const outShape = broadcastShape(a.shape, b.shape);
    if (!outShape) return null;
    const view = foldBroadcast(a.shape, b.shape, outShape);
    if (!view) return null;
    const out = takeBuffer(sizeOf(outShape));
    if (out.length > 0) addon.binary(op, values(backend, a), values(backend, b), out, view.dims, view.aStrides, view.bStrides);
    return backend.makeTensorInfo(outShape, 'float32', out);
  };

  /**
   * Reduces `axes` of `data` (row-major `shape`) with `op`, scaling the result by `scale`. The addon
   * takes ≤ 4 alternating keep/reduce runs; a reduction with more (the gradient of a nearest
   * upsampling sums [N, H, f, W, f, C] over axes 2 and 4: five runs) first reduces its last axis
   * alone, which leaves ≤ 3 runs, and recurses on the rest — sum, max and min compose so, and only
   * the final pass scales (tfjs-backend-cpu would transpose the whole tensor in JavaScript instead).
   */
  const reduceValues = (op: number, data: Float32Array, shape: readonly number[], axes: readonly number[], scale: number): Float32Array => {
    const outLength = sizeOf(shape.filter((_, i) => !axes.includes(i)));
    const view = foldReduce(shape, axes);
    if (view) {
      const out = takeBuffer(outLength);
      addon.reduce(op, data, out, view.dims, view.reduceFlags, scale);
      return out;
    }
    const last = Math.max(...axes);
    const partialShape = shape.map((d, i) => (i === last ? 1 : d));
    const lastView = foldReduce(shape, [last])!;
    const partial = takeBuffer(sizeOf(partialShape));
    addon.reduce(op, data, partial, lastView.dims, lastView.reduceFlags, 1);
    const out = reduceValues(op, partial, partialShape, axes.filter((a) => a !== last), scale);
    releaseBuffer(partial);
    return out;
  };

  const reduce = (op: number, x: TensorInfo, axisAttr: unknown, keepDims: boolean, mean: boolean, backend: MathBackendCPU): TensorInfo | null => {
    if (!allFloat(x) || sizeOf(x.shape) === 0) return null;
    const axes = tf.util.parseAxisParam(axisAttr as number | number[], x.shape);
    const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    const count = axes.reduce((n, a) => n * x.shape[a], 1);
    const out = reduceValues(op, values(backend, x), x.shape, axes, mean ? 1 / count : 1);
    return backend.makeTensorInfo(outShape, 'float32', out);
  };

  const conv = (which: 'forward' | 'input' | 'filter', params: KernelParams, bias?: TensorInfo): TensorInfo | null => {
    const backend = params.backend as MathBackendCPU;
    const attrs = params.attrs as Attrs;
    const dataFormat = bu.convertConv2DDataFormat((attrs.dataFormat as 'NHWC' | 'NCHW') ?? 'NHWC');
    const pad = attrs.pad as 'same' | 'valid' | number;
    const rounding = attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined;
    const strides = attrs.strides as number | [number, number];
    let info: TF.backend_util.Conv2DInfo;
    let a: TensorInfo;
    let b: TensorInfo;
    if (which === 'forward') {
      ({ x: a, filter: b } = params.inputs as { x: TensorInfo; filter: TensorInfo });
      const dilations = (attrs.dilations as number | [number, number]) ?? 1;
      info = bu.computeConv2DInfo(a.shape as [number, number, number, number], b.shape as [number, number, number, number], strides, dilations, pad, rounding, false, dataFormat);
    } else if (which === 'input') {
      ({ dy: a, filter: b } = params.inputs as { dy: TensorInfo; filter: TensorInfo });
      info = bu.computeConv2DInfo(attrs.inputShape as [number, number, number, number], b.shape as [number, number, number, number], strides, 1, pad, rounding, false, dataFormat);
    } else {
      ({ x: a, dy: b } = params.inputs as { x: TensorInfo; dy: TensorInfo });
      info = bu.computeConv2DInfo(a.shape as [number, number, number, number], attrs.filterShape as [number, number, number, number], strides, 1, pad, rounding, false, dataFormat);
    }
    if (!allFloat(a, b)) return null;
    const geometry = convGeometry(info);
    if (!geometry) return null;
    const route = ctx.route();
    if (which === 'forward') {
      const y = takeBuffer(sizeOf(info.outShape));
      if (bias) addon.convForward(values(backend, a), values(backend, b), y, geometry, route, values(backend, bias));
      else addon.convForward(values(backend, a), values(backend, b), y, geometry, route);
      return backend.makeTensorInfo(info.outShape, 'float32', y);
    }
    if (which === 'input') {
      const shape = attrs.inputShape as number[];
      const dx = takeBuffer(sizeOf(shape));
      addon.convBackpropInput(values(backend, a), values(backend, b), dx, geometry, route);
      return backend.makeTensorInfo(shape, 'float32', dx);
    }
    const filterShape = attrs.filterShape as number[];
    const dFilter = takeBuffer(sizeOf(filterShape));
    if (isPointwise(info)) {
      // A 1×1 stride-1 convolution is a matmul over the pixels, so its weight gradient is one sgemm:
      // dW[Cin, Cout] = Xᵀ·dY with X as [N·H·W, Cin] and dY as [N·H·W, Cout]. oneDNN's jit_1x1
      // backward-weights kernel took 1.8 ms a call for the t2i UNet's 32–64-channel projections at
      // batch 32 on AVX2 (the forward 0.1 ms): it splits and reduces over the pixels in parallel.
      const pixels = info.batchSize * info.outHeight * info.outWidth;
      addon.matMul(values(backend, a), values(backend, b), dFilter, 1, info.inChannels, info.outChannels, pixels, 1, 0, 0, 0);
    } else {
      addon.convBackpropFilter(values(backend, a), values(backend, b), dFilter, geometry, route);
    }
    return backend.makeTensorInfo(filterShape, 'float32', dFilter);
  };

  const matMul = (a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean, backend: MathBackendCPU): TensorInfo | null => {
    if (!allFloat(a, b) || a.shape.length < 2 || b.shape.length < 2) return null;
    const ra = a.shape.length, rb = b.shape.length;
    const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    const k2 = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
    const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    if (k !== k2 || m === 0 || n === 0 || k === 0) return null;
    const outer = broadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    if (!outer) return null;
    const batchA = sizeOf(a.shape.slice(0, -2));
    const batchB = sizeOf(b.shape.slice(0, -2));
    const batch = sizeOf(outer);
    // One operand broadcast whole over the other's batch is served; mixed broadcasting falls back.
    if (!((batchA === batch || batchA === 1) && (batchB === batch || batchB === 1))) return null;
    if (batchA !== batchB && batchA !== 1 && batchB !== 1) return null;
    const c = takeBuffer(batch * m * n);
    addon.matMul(values(backend, a), values(backend, b), c, batch, m, n, k, transposeA ? 1 : 0, transposeB ? 1 : 0,
      batchA === 1 ? 0 : m * k, batchB === 1 ? 0 : k * n);
    return backend.makeTensorInfo([...outer, m, n], 'float32', c);
  };

  // Bias (broadcast add) and relu/linear activation for the fused ops; other activations fall back.
  const biasActivation = (y: TensorInfo, bias: TensorInfo | undefined, activation: unknown, backend: MathBackendCPU): TensorInfo | null => {
    let out = y;
    if (bias) {
      const withBias = binary(BINARY_OPS.Add, out, bias, backend);
      if (!withBias) return null;
      backend.disposeIntermediateTensorInfo(out);
      out = withBias;
    }
    if (activation === 'relu') {
      const r = takeBuffer(sizeOf(out.shape));
      addon.unary(UNARY_OPS.Relu, values(backend, out), r);
      backend.disposeIntermediateTensorInfo(out);
      out = backend.makeTensorInfo(out.shape, 'float32', r);
    }
    return out;
  };
  const fusedActivationSupported = (activation: unknown): boolean => activation === undefined || activation === 'linear' || activation === 'relu';

  const pool = (params: KernelParams, x: TensorInfo): { info: TF.backend_util.Conv2DInfo; geometry: Int32Array } | null => {
    const attrs = params.attrs as Attrs;
    if (!allFloat(x) || x.shape.length !== 4) return null;
    const info = bu.computePool2DInfo(x.shape as [number, number, number, number], attrs.filterSize as number | [number, number],
      attrs.strides as number | [number, number], 1, attrs.pad as 'same' | 'valid' | number, attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined);
    const geometry = convGeometry(info);
    if (!geometry || info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
    const p = info.padInfo;
    if (p.top || p.left || p.bottom || p.right) return null;
    return { info, geometry };
  };

  /** MaxPool (mode 0) and AvgPool (mode 1): one native pooling kernel, tfjs's own outside its cases. */
  const poolForward =
    (mode: 0 | 1) =>
    (p: KernelParams, fb: KernelFunc): TensorInfo => {
      const x = (p.inputs as { x: TensorInfo }).x;
      const backend = p.backend as MathBackendCPU;
      const g = pool(p, x);
      if (!g) return fb(p) as TensorInfo;
      const y = takeBuffer(sizeOf(g.info.outShape));
      addon.pool2d(mode, values(backend, x), y, g.geometry);
      return backend.makeTensorInfo(g.info.outShape, 'float32', y);
    };

  const table: Record<string, KernelOverride> = {
    Conv2D: (p, fb) => conv('forward', p) ?? fb(p),
    Conv2DBackpropInput: (p, fb) => conv('input', p) ?? fb(p),
    Conv2DBackpropFilter: (p, fb) => conv('filter', p) ?? fb(p),
    BatchMatMul: (p, fb) => {
      const { a, b } = p.inputs as { a: TensorInfo; b: TensorInfo };
      const attrs = p.attrs as Attrs;
      return matMul(a, b, Boolean(attrs.transposeA), Boolean(attrs.transposeB), p.backend as MathBackendCPU) ?? fb(p);
    },
    _FusedMatMul: (p, fb) => {
      const { a, b, bias, preluActivationWeights } = p.inputs as Record<string, TensorInfo | undefined>;
      const attrs = p.attrs as Attrs;
      const backend = p.backend as MathBackendCPU;
      if (preluActivationWeights || !fusedActivationSupported(attrs.activation) || !allFloat(bias)) return fb(p);
      const y = matMul(a!, b!, Boolean(attrs.transposeA), Boolean(attrs.transposeB), backend);
      if (!y) return fb(p);
      const out = biasActivation(y, bias, attrs.activation, backend);
      if (!out) {
        backend.disposeIntermediateTensorInfo(y);
        return fb(p);
      }
      return out;
    },
    FusedConv2D: (p, fb) => {
      const { x, filter, bias, preluActivationWeights } = p.inputs as Record<string, TensorInfo | undefined>;
      const attrs = p.attrs as Attrs;
      const backend = p.backend as MathBackendCPU;
      if (preluActivationWeights || !fusedActivationSupported(attrs.activation) || !allFloat(bias)) return fb(p);
      // A per-channel bias goes into the convolution itself (oneDNN adds it in the same pass).
      const channelBias = bias && filter && sizeOf(bias.shape) === filter.shape[3] ? bias : undefined;
      const y = conv('forward', { ...p, inputs: { x: x!, filter: filter! } }, channelBias);
      if (!y) return fb(p);
      const out = biasActivation(y, channelBias ? undefined : bias, attrs.activation, backend);
      if (!out) {
        backend.disposeIntermediateTensorInfo(y);
        return fb(p);
      }
      return out;
    },
    FusedBatchNorm: (p, fb) => {
      const { x, mean, variance, offset, scale } = p.inputs as Record<string, TensorInfo | undefined>;
      const backend = p.backend as MathBackendCPU;
      const epsilon = ((p.attrs as Attrs).varianceEpsilon as number) ?? 0.001;
      if (!x || !mean || !variance || !allFloat(x, mean, variance, offset, scale)) return fb(p);
      const channels = x.shape[x.shape.length - 1];
      const ok = (t: TensorInfo | undefined): boolean => t === undefined || sizeOf(t.shape) === channels || sizeOf(t.shape) === 1;
      if (!channels || !ok(mean) || !ok(variance) || !ok(offset) || !ok(scale)) return fb(p);
      const at = (t: TensorInfo | undefined, c: number, dflt: number): number => {
        if (!t) return dflt;
        const v = values(backend, t);
        return v.length === 1 ? v[0] : v[c];
      };
      // y = (x − μ)/√(σ² + ε)·γ + β = x·s + (β − μ·s) with s = γ/√(σ² + ε), folded per channel in float64.
      const s = new Float32Array(channels);
      const shift = new Float32Array(channels);
      for (let c = 0; c < channels; c++) {
        const k = at(scale, c, 1) / Math.sqrt(at(variance, c, 0) + epsilon);
        s[c] = k;
        shift[c] = at(offset, c, 0) - at(mean, c, 0) * k;
      }
      const out = takeBuffer(sizeOf(x.shape));
      addon.channelAffine(values(backend, x), s, shift, out, channels);
      return backend.makeTensorInfo(x.shape, 'float32', out);
    },
    Sum: (p, fb) => {
      const attrs = p.attrs as Attrs;
      return reduce(0, (p.inputs as { x: TensorInfo }).x, attrs.axis, Boolean(attrs.keepDims), false, p.backend as MathBackendCPU) ?? fb(p);
    },
    Mean: (p, fb) => {
      const attrs = p.attrs as Attrs;
      return reduce(0, (p.inputs as { x: TensorInfo }).x, attrs.axis, Boolean(attrs.keepDims), true, p.backend as MathBackendCPU) ?? fb(p);
    },
    Max: (p, fb) => {
      const attrs = p.attrs as Attrs;
      return reduce(1, (p.inputs as { x: TensorInfo }).x, attrs.reductionIndices, Boolean(attrs.keepDims), false, p.backend as MathBackendCPU) ?? fb(p);
    },
    Min: (p, fb) => {
      const attrs = p.attrs as Attrs;
      return reduce(2, (p.inputs as { x: TensorInfo }).x, attrs.axis, Boolean(attrs.keepDims), false, p.backend as MathBackendCPU) ?? fb(p);
    },
    MaxPool: poolForward(0),
    AvgPool: poolForward(1),
    MaxPoolGrad: (p, fb) => {
      const { dy, input } = p.inputs as { dy: TensorInfo; input: TensorInfo };
      const backend = p.backend as MathBackendCPU;
      const g = pool(p, input);
      if (!g || !allFloat(dy)) return fb(p);
      const dx = takeBuffer(sizeOf(input.shape));
      addon.pool2dGrad(0, values(backend, input), values(backend, dy), dx, g.geometry);
      return backend.makeTensorInfo(input.shape, 'float32', dx);
    },
    AvgPoolGrad: (p, fb) => {
      const { dy, input } = p.inputs as { dy: TensorInfo; input: TensorInfo };
      const backend = p.backend as MathBackendCPU;
      const g = pool(p, input);
      if (!g || !allFloat(dy)) return fb(p);
      const dx = takeBuffer(sizeOf(input.shape));
      addon.pool2dGrad(1, values(backend, dy), values(backend, dy), dx, g.geometry);
      return backend.makeTensorInfo(input.shape, 'float32', dx);
    },
  };

  Object.assign(table, layoutKernels(ctx));
  // Softmax over the last axis (attention weights); tfjs-core composes its gradient from Multiply, Sum, Sub.
  table.Softmax = (p, fb) => {
    const x = (p.inputs as { logits: TensorInfo }).logits;
    const dim = (p.attrs as Attrs).dim as number[] | number;
    const axis = Array.isArray(dim) ? dim[0] : dim;
    const rank = x.shape.length;
    if (!allFloat(x) || rank === 0 || sizeOf(x.shape) === 0 || (axis !== -1 && axis !== rank - 1)) return fb(p);
    const backend = p.backend as MathBackendCPU;
    const out = takeBuffer(sizeOf(x.shape));
    addon.softmax(values(backend, x), out, x.shape[rank - 1]);
    return backend.makeTensorInfo(x.shape, 'float32', out);
  };
  // Step (relu's gradient mask): 1 where x > 0, alpha elsewhere, NaN stays NaN.
  table.Step = (p, fb) => {
    const x = (p.inputs as { x: TensorInfo }).x;
    if (!allFloat(x)) return fb(p);
    const alpha = ((p.attrs as Attrs).alpha as number) ?? 0;
    const backend = p.backend as MathBackendCPU;
    const src = values(backend, x);
    const out = takeBuffer(src.length);
    addon.step(src, out, alpha);
    return backend.makeTensorInfo(x.shape, 'float32', out);
  };

  for (const [name, op] of Object.entries(BINARY_OPS)) {
    table[name] = (p, fb) => {
      const { a, b } = p.inputs as { a: TensorInfo; b: TensorInfo };
      return binary(op, a, b, p.backend as MathBackendCPU) ?? fb(p);
    };
  }
  for (const [name, op] of Object.entries(UNARY_OPS)) {
    table[name] = (p, fb) => {
      const x = (p.inputs as { x: TensorInfo }).x;
      if (!allFloat(x)) return fb(p);
      const backend = p.backend as MathBackendCPU;
      const out = takeBuffer(sizeOf(x.shape));
      addon.unary(op, values(backend, x), out);
      return backend.makeTensorInfo(x.shape, 'float32', out);
    };
  }
  return table;
}

/** Per-kernel wall time, collected when profiling is on (npx tsx bench/diffusion-contextunet.ts --backends native --profile). */
const profile = new Map<string, { calls: number; ms: number }>();
let profiling = false;
/**
 * The profile's clock: wall time, or with FLASHDIFF_PROFILE_CLOCK=cpu the process's CPU time (all
 * threads), which a machine shared with other work inflates far less than wall time.
 */
const clock: () => number =
  process.env.FLASHDIFF_PROFILE_CLOCK === 'cpu'
    ? () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1000;
      }
    : () => performance.now();
export function setKernelProfiling(on: boolean): void {
  profiling = on;
  if (on) profile.clear();
}
export function kernelProfile(): Array<{ kernel: string; calls: number; ms: number }> {
  return [...profile.entries()].map(([kernel, v]) => ({ kernel, ...v })).sort((a, b) => b.ms - a.ms);
}

let conversionRoute: ConvRoute = 'onednn';
export function setConvRoute(route: ConvRoute): void {
  conversionRoute = route;
}
export function getConvRoute(): ConvRoute {
  return conversionRoute;
}

/**
 * A cpu kernel may return views of (or share) its inputs' buffers (slice returns subarrays); when
 * such a buffer came from the pool it must not be recycled while the view lives. An output that
 * is an input's own dataId (Reshape, Identity, ExpandDims: tfjs counts the references and frees
 * the values once) needs no guard: marking those escaped dropped most of a training step's
 * activations out of the pool.
 */
function guardViews(kernel: KernelFunc): KernelFunc {
  return (params) => {
    const out = kernel(params);
    const backend = params.backend as MathBackendCPU;
    const inputs = Object.values(params.inputs as Record<string, TensorInfo | undefined>);
    for (const t of Array.isArray(out) ? out : [out]) {
      if (inputs.some((input) => input?.dataId === t.dataId)) continue;
      const values = backend.data.has(t.dataId) ? backend.data.get(t.dataId).values : undefined;
      if (isOwned(values)) markEscaped(values);
    }
    return out;
  };
}

/** Registers backend 'native' (idempotent). Called by index.ts once the addon has loaded. */
export function installNativeBackend(tf: Tf, addon: NativeAddon): void {
  if (!addon.info().dnnl && conversionRoute === 'onednn') conversionRoute = 'blas';
  if (tf.findBackendFactory(NATIVE_BACKEND_NAME)) return;
  // Priority 0: 'native' never becomes the default by accident; callers opt in with setBackend.
  tf.registerBackend(NATIVE_BACKEND_NAME, () => new NativeBackendCPU(), 0);
  const ctx: KernelContext = { tf, addon, route: () => CONV_ROUTES[conversionRoute] };
  const overrides = kernels(ctx);
  const timed = (name: string, fn: KernelFunc): KernelFunc => (params) => {
    if (!profiling) return fn(params);
    const t0 = clock();
    const out = fn(params);
    const first = Array.isArray(out) ? out[0] : out;
    const size = first ? sizeOf(first.shape) : 0;
    // Kernels are profiled per output-size class: small (< 16 Ki elements), medium, large (≥ 1 Mi).
    const key = `${name}${size >= 1 << 20 ? ' [L]' : size >= 1 << 14 ? ' [M]' : ' [S]'}`;
    const entry = profile.get(key) ?? { calls: 0, ms: 0 };
    entry.calls += 1;
    entry.ms += clock() - t0;
    profile.set(key, entry);
    return out;
  };
  for (const config of tf.getKernelsForBackend('cpu')) {
    const fallback = config.kernelFunc;
    const override = overrides[config.kernelName];
    const kernelFunc: KernelFunc = override ? (params) => override(params, fallback) : guardViews(fallback);
    tf.registerKernel({ ...config, backendName: NATIVE_BACKEND_NAME, kernelFunc: timed(config.kernelName, kernelFunc) });
  }
  // The package's own fused activations (see ops.ts): one addon pass forward (unary op code) and
  // one backward (unaryGrad op code: 1 GELU', 3 SiLU').
  const activation = (op: number): KernelFunc => ({ inputs, backend }) => {
    const x = (inputs as { x: TensorInfo }).x;
    const cpu = backend as MathBackendCPU;
    const out = takeBuffer(sizeOf(x.shape));
    addon.unary(op, values(cpu, x), out);
    return cpu.makeTensorInfo(x.shape, 'float32', out);
  };
  const activationGrad = (op: number): KernelFunc => ({ inputs, backend }) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const cpu = backend as MathBackendCPU;
    const out = takeBuffer(sizeOf(x.shape));
    addon.unaryGrad(op, values(cpu, x), values(cpu, dy), out);
    return cpu.makeTensorInfo(x.shape, 'float32', out);
  };
  const [gelu, geluGrad, silu, siluGrad] = [activation(UNARY_GELU), activationGrad(1), activation(UNARY_SILU), activationGrad(3)];
  const batchNormTrain: KernelFunc = ({ inputs, backend, attrs }) => {
    const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
    const cpu = backend as MathBackendCPU;
    const channels = x.shape[x.shape.length - 1];
    const y = takeBuffer(sizeOf(x.shape));
    const mean = new Float32Array(channels);
    const variance = new Float32Array(channels);
    addon.batchNormForward(values(cpu, x), values(cpu, gamma), values(cpu, beta), y, mean, variance, channels, (attrs as Attrs).epsilon as number);
    return [cpu.makeTensorInfo(x.shape, 'float32', y), cpu.makeTensorInfo([channels], 'float32', mean), cpu.makeTensorInfo([channels], 'float32', variance)];
  };
  const batchNormTrainGrad: KernelFunc = ({ inputs, backend, attrs }) => {
    const { x, dy, mean, variance, gamma } = inputs as Record<string, TensorInfo>;
    const cpu = backend as MathBackendCPU;
    const channels = x.shape[x.shape.length - 1];
    const dx = takeBuffer(sizeOf(x.shape));
    const dGamma = new Float32Array(channels);
    const dBeta = new Float32Array(channels);
    addon.batchNormBackward(values(cpu, x), values(cpu, dy), values(cpu, mean), values(cpu, variance), values(cpu, gamma), dx, dGamma, dBeta, channels,
      (attrs as Attrs).epsilon as number);
    return [cpu.makeTensorInfo(x.shape, 'float32', dx), cpu.makeTensorInfo([channels], 'float32', dGamma), cpu.makeTensorInfo([channels], 'float32', dBeta)];
  };
  // GroupNorm / LayerNorm: x viewed as [rows, pixels, groups, channels/groups] (attrs rows, groups).
  const groupNorm: KernelFunc = ({ inputs, backend, attrs }) => {
    const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
    const cpu = backend as MathBackendCPU;
    const { rows, groups, epsilon } = attrs as { rows: number; groups: number; epsilon: number };
    const channels = x.shape[x.shape.length - 1];
    const y = takeBuffer(sizeOf(x.shape));
    const mean = new Float32Array(rows * groups);
    const rstd = new Float32Array(rows * groups);
    addon.groupNormForward(values(cpu, x), values(cpu, gamma), values(cpu, beta), y, mean, rstd, rows, groups, channels, epsilon);
    return [cpu.makeTensorInfo(x.shape, 'float32', y), cpu.makeTensorInfo([rows * groups], 'float32', mean), cpu.makeTensorInfo([rows * groups], 'float32', rstd)];
  };
  const groupNormGrad: KernelFunc = ({ inputs, backend, attrs }) => {
    const { x, dy, mean, rstd, gamma } = inputs as Record<string, TensorInfo>;
    const cpu = backend as MathBackendCPU;
    const { rows, groups } = attrs as { rows: number; groups: number };
    const channels = x.shape[x.shape.length - 1];
    const dx = takeBuffer(sizeOf(x.shape));
    const dGamma = new Float32Array(channels);
    const dBeta = new Float32Array(channels);
    addon.groupNormBackward(values(cpu, x), values(cpu, dy), values(cpu, mean), values(cpu, rstd), values(cpu, gamma), dx, dGamma, dBeta, rows, groups, channels);
    return [cpu.makeTensorInfo(x.shape, 'float32', dx), cpu.makeTensorInfo(gamma.shape, 'float32', dGamma), cpu.makeTensorInfo(gamma.shape, 'float32', dBeta)];
  };
  tf.registerKernel({ kernelName: GROUP_NORM_KERNEL, backendName: NATIVE_BACKEND_NAME, kernelFunc: timed(GROUP_NORM_KERNEL, groupNorm) });
  tf.registerKernel({ kernelName: GROUP_NORM_GRAD_KERNEL, backendName: NATIVE_BACKEND_NAME, kernelFunc: timed(GROUP_NORM_GRAD_KERNEL, groupNormGrad) });
  tf.registerKernel({ kernelName: BATCH_NORM_TRAIN_KERNEL, backendName: NATIVE_BACKEND_NAME, kernelFunc: timed(BATCH_NORM_TRAIN_KERNEL, batchNormTrain) });
  tf.registerKernel({ kernelName: BATCH_NORM_TRAIN_GRAD_KERNEL, backendName: NATIVE_BACKEND_NAME, kernelFunc: timed(BATCH_NORM_TRAIN_GRAD_KERNEL, batchNormTrainGrad) });
  tf.registerKernel({ kernelName: GELU_KERNEL, backendName: NATIVE_BACKEND_NAME, kernelFunc: timed(GELU_KERNEL, gelu) });
  tf.registerKernel({ kernelName: GELU_GRAD_KERNEL, backendName: NATIVE_BACKEND_NAME, kernelFunc: timed(GELU_GRAD_KERNEL, geluGrad) });
  tf.registerKernel({ kernelName: SILU_KERNEL, backendName: NATIVE_BACKEND_NAME, kernelFunc: timed(SILU_KERNEL, silu) });
  tf.registerKernel({ kernelName: SILU_GRAD_KERNEL, backendName: NATIVE_BACKEND_NAME, kernelFunc: timed(SILU_GRAD_KERNEL, siluGrad) });
  registerOptimizerKernels(tf, addon, { backendName: NATIVE_BACKEND_NAME, values, timed });
}
