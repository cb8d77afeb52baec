import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Loads the N-API addon built by install.mjs (build/Release/flashdiff_native.node). Loading never
 * throws: when the addon is missing or fails to load, `loadAddon()` returns null and
 * `addonUnavailableReason()` says why, so callers can fall back to the wasm/cpu backends.
 */

/** Convolution geometry, 17 int32s: batch, inH, inW, inC, kH, kW, outC, outH, outW, strideH, strideW,
 * padTop, padLeft, padBottom, padRight, dilationH, dilationW. */
export type ConvGeometry = Int32Array;

export const CONV_ROUTES = { blas: 0, onednn: 1 } as const;
export type ConvRoute = keyof typeof CONV_ROUTES;

export interface NativeAddon {
  convForward(x: Float32Array, filter: Float32Array, y: Float32Array, geometry: ConvGeometry, route: number, bias?: Float32Array): void;
  convBackpropInput(dy: Float32Array, filter: Float32Array, dx: Float32Array, geometry: ConvGeometry, route: number): void;
  convBackpropFilter(x: Float32Array, dy: Float32Array, dFilter: Float32Array, geometry: ConvGeometry, route: number): void;
  matMul(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    batch: number,
    m: number,
    n: number,
    k: number,
    transposeA: number,
    transposeB: number,
    batchStrideA: number,
    batchStrideB: number,
  ): void;
  setThreads(threads: number): void;
  info(): { threads: number; dnnl: boolean };
  dnnlForwardImpl(geometry: ConvGeometry): string;
  /** glibc's malloc_trim(0); absent from addons built before it existed. */
  trimMemory?(): boolean;
  /** Elementwise kernels (native/elementwise.cc); broadcasting is a 4-D view with per-operand strides. */
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array, dims: Int32Array, aStrides: Int32Array, bStrides: Int32Array): void;
  unary(op: number, x: Float32Array, out: Float32Array): void;
  unaryGrad(op: number, x: Float32Array, dy: Float32Array, out: Float32Array): void;
  reduce(op: number, x: Float32Array, out: Float32Array, dims: Int32Array, reduceFlags: Int32Array, scale: number): void;
  channelAffine(x: Float32Array, scale: Float32Array, shift: Float32Array, out: Float32Array, channels: number): void;
  batchNormForward(x: Float32Array, gamma: Float32Array, beta: Float32Array, y: Float32Array, mean: Float32Array, variance: Float32Array, channels: number, epsilon: number): void;
  batchNormBackward(
    x: Float32Array,
    dy: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    gamma: Float32Array,
    dx: Float32Array,
    dGamma: Float32Array,
    dBeta: Float32Array,
    channels: number,
    epsilon: number,
  ): void;
  /** dst[dstOffset + Σ i·dstStrides] = src[srcOffset + Σ i·srcStrides] for i < dims (rank 1–8, native/layout.cc). */
  copyStrided(src: Float32Array, srcOffset: number, dst: Float32Array, dstOffset: number, dims: Int32Array, srcStrides: Int32Array, dstStrides: Int32Array): void;
  /** Softmax of each row of n values (the last axis). */
  softmax(x: Float32Array, out: Float32Array, n: number): void;
  /** tfjs's Step: 1 where x > 0, alpha elsewhere, NaN stays NaN. */
  step(x: Float32Array, out: Float32Array, alpha: number): void;
  /** GroupNorm over x viewed as [rows, pixels, groups, channels/groups]; mean and rstd (1/√(σ² + ε)) per (row, group). */
  groupNormForward(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    rows: number,
    groups: number,
    channels: number,
    epsilon: number,
  ): void;
  groupNormBackward(
    x: Float32Array,
    dy: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    gamma: Float32Array,
    dx: Float32Array,
    dGamma: Float32Array,
    dBeta: Float32Array,
    rows: number,
    groups: number,
    channels: number,
  ): void;
  /**
   * Adam's update of one parameter (native/optimizer.cc): writes θ', m', v' from θ, m, v and the
   * gradient; the scalars as the composite rounds them (bias corrections folded in).
   */
  adamUpdate(
    param: Float32Array,
    m: Float32Array,
    v: Float32Array,
    grad: Float32Array,
    outParam: Float32Array,
    outM: Float32Array,
    outV: Float32Array,
    gradScale: number,
    beta1: number,
    oneMinusBeta1: number,
    beta2: number,
    oneMinusBeta2: number,
    stepSize: number,
    inverseCorrection2: number,
    epsilon: number,
  ): void;
  /** out[0] = Σ x² (float32 squares summed in float64 in order, rounded to float32). */
  squareSum(x: Float32Array, out: Float32Array): void;
  /** out = target·decay + source·oneMinusDecay. */
  emaUpdate(target: Float32Array, source: Float32Array, out: Float32Array, decay: number, oneMinusDecay: number): void;
  pool2d(op: number, x: Float32Array, y: Float32Array, geometry: ConvGeometry): void;
  pool2dGrad(op: number, x: Float32Array, dy: Float32Array, dx: Float32Array, geometry: ConvGeometry): void;
}

let cached: { addon: NativeAddon | null; reason: string } | null = null;

export function addonPath(): string {
  return fileURLToPath(new URL('../build/Release/flashdiff_native.node', import.meta.url));
}

export function loadAddon(): NativeAddon | null {
  if (cached) return cached.addon;
  const path = addonPath();
  if (process.env.FLASHDIFF_NATIVE_DISABLE === '1') {
    cached = { addon: null, reason: 'disabled by FLASHDIFF_NATIVE_DISABLE=1' };
    return null;
  }
  if (!existsSync(path)) {
    cached = { addon: null, reason: `addon not built (${path} missing; run \`npm run build -w packages/diffusion-native\` after installing libopenblas-dev)` };
    return null;
  }
  // libgomp reads its settings when the addon loads it. Idle OpenMP threads sleep instead of
  // spinning: on a machine shared with other work, spinning threads turn every parallel region's
  // barrier into a wait for a descheduled thread (measured on this 2-core machine under load:
  // training step 11.5 s spinning vs 4.9 s passive). FLASHDIFF users may still set it themselves.
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  // The same for OpenBLAS's own (pthread) workers, which otherwise spin ~2^28 cycles (~0.1 s) after
  // every sgemm: 4 is its minimum. ContextUnet training step at 2 threads on the loaded 2-core
  // machine: 1,178–1,185 ms CPU time per step spinning vs 1,102–1,118 ms.
  process.env.OPENBLAS_THREAD_TIMEOUT ??= '4';
  try {
    const require = createRequire(import.meta.url);
    cached = { addon: require(path) as NativeAddon, reason: '' };
  } catch (error) {
    cached = { addon: null, reason: `addon failed to load: ${(error as Error).message.split('\n')[0]}` };
  }
  return cached.addon;
}

export function addonUnavailableReason(): string {
  loadAddon();
  return cached?.reason ?? '';
}
