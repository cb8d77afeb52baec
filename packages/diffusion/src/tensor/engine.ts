/**
 * The tensor seam. Models, training and the classifier see only this interface; the schedulers see
 * no tensors at all (they work on Float32Array). A faster engine (a native BLAS addon, onnxruntime
 * for inference) implements `TensorEngine` and is handed to the same model code.
 *
 * Contract:
 * - Layout is NHWC for images; conv filters are [kh, kw, inChannels, outChannels];
 *   transposed-conv filters are [kh, kw, outChannels, inChannels] (the tfjs convention).
 * - Every op returns a new tensor and never mutates its inputs; callers free intermediates with
 *   `tidy` (everything created inside is freed except what is returned or passed to `keep`).
 * - `valueAndGrads` differentiates a scalar loss with respect to the given variables; ops used inside
 *   it must be differentiable on the engine.
 * - `numTensors()` counts live tensors, so tests can assert there are no leaks.
 */
export interface Tensor {
  readonly shape: number[];
  readonly size: number;
  dispose(): void;
}

/** A trainable (or buffer) tensor that keeps its identity when its value changes. */
export interface Variable extends Tensor {
  assign(value: Tensor): void;
}

export type Padding = 'same' | 'valid';

export interface TensorEngine {
  /** Short name for reports: "tfjs-wasm", "tfjs-cpu", "tfjs-tensorflow", … */
  readonly name: string;
  /**
   * True for engines whose tensors carry shapes but no values (the ONNX tracer): models then skip
   * value-dependent shortcuts such as processing attention heads in slices.
   */
  readonly symbolic?: boolean;

  // ---- memory and host transfer ----
  tensor(values: Float32Array, shape: readonly number[]): Tensor;
  scalar(value: number): Tensor;
  zeros(shape: readonly number[]): Tensor;
  /** `name` is for diagnostics only; models keep their own name → variable maps. */
  variable(initial: Tensor, name: string, trainable: boolean): Variable;
  readSync(x: Tensor): Float32Array;
  read(x: Tensor): Promise<Float32Array>;
  tidy<T extends Tensor | Tensor[] | void | number>(fn: () => T): T;
  keep<T extends Tensor>(x: T): T;
  numTensors(): number;

  // ---- autodiff ----
  valueAndGrads(loss: () => Tensor, variables: readonly Variable[]): { value: Tensor; grads: Tensor[] };

  // ---- elementwise (broadcasting like NumPy) ----
  add(a: Tensor, b: Tensor): Tensor;
  sub(a: Tensor, b: Tensor): Tensor;
  mul(a: Tensor, b: Tensor): Tensor;
  div(a: Tensor, b: Tensor): Tensor;
  addScalar(a: Tensor, s: number): Tensor;
  mulScalar(a: Tensor, s: number): Tensor;
  square(x: Tensor): Tensor;
  sqrt(x: Tensor): Tensor;
  exp(x: Tensor): Tensor;
  sin(x: Tensor): Tensor;
  cos(x: Tensor): Tensor;
  relu(x: Tensor): Tensor;
  sigmoid(x: Tensor): Tensor;
  /** Exact GELU, 0.5·x·(1 + erf(x/√2)) — PyTorch's nn.GELU default. */
  gelu(x: Tensor): Tensor;
  /** SiLU/swish, x·σ(x). */
  silu(x: Tensor): Tensor;

  // ---- reductions ----
  mean(x: Tensor, axes?: number[], keepDims?: boolean): Tensor;
  sum(x: Tensor, axes?: number[], keepDims?: boolean): Tensor;

  // ---- shape ----
  reshape(x: Tensor, shape: readonly number[]): Tensor;
  transpose(x: Tensor, perm: readonly number[]): Tensor;
  concat(xs: Tensor[], axis: number): Tensor;
  /** The block of `size` elements starting at `begin` on each axis (size −1: to the end). */
  slice(x: Tensor, begin: readonly number[], size: readonly number[]): Tensor;
  /** Rows of a 2-D `table` ([rows, width]) picked by `indices` → [indices.length, width] (an embedding lookup). */
  gather(table: Tensor, indices: Int32Array): Tensor;

  // ---- linear algebra and convolution ----
  /** Batched when rank 3 ([B, M, K] × [B, K, N]). */
  matMul(a: Tensor, b: Tensor, transposeA?: boolean, transposeB?: boolean): Tensor;
  /** With `bias` ([outChannels]) the result is conv(x, filter) + bias, which engines may fuse into one kernel. */
  conv2d(x: Tensor, filter: Tensor, stride: number, padding: Padding, bias?: Tensor): Tensor;
  /** Output [N, H·stride, W·stride, outChannels] for kernel = stride ('valid'), the ConvTranspose2d(k, s=k) case. */
  conv2dTranspose(x: Tensor, filter: Tensor, outShape: readonly number[], stride: number, padding: Padding): Tensor;
  maxPool(x: Tensor, size: number): Tensor;
  avgPool(x: Tensor, size: number): Tensor;
  upsampleNearest(x: Tensor, factor: number): Tensor;
  /** Nearest-neighbour resize of NHWC x to [height, width]: src = ⌊dst · in/out⌋ (PyTorch's 'nearest'). */
  resizeNearest(x: Tensor, height: number, width: number): Tensor;
  /** Zero padding of NHWC x on its spatial axes (PyTorch's F.pad / a convolution's explicit padding). */
  pad2d(x: Tensor, top: number, bottom: number, left: number, right: number): Tensor;
  softmax(x: Tensor): Tensor;
  logSoftmax(x: Tensor): Tensor;

  // ---- normalisation (engines may fuse these) ----
  /** GroupNorm (Wu & He 2018): per sample, normalise each of `groups` channel groups over H, W and its channels. x is NHWC. */
  groupNorm(x: Tensor, groups: number, gamma: Tensor, beta: Tensor, epsilon: number): Tensor;
  /** LayerNorm (Ba et al. 2016) over the last axis: (x − μ)/√(σ² + ε)·γ + β, biased variance. */
  layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, epsilon: number): Tensor;
  /** Per-channel mean and biased variance over all axes but the last. */
  moments(x: Tensor): { mean: Tensor; variance: Tensor };
  /** (x − mean)/√(variance + ε)·γ + β, per channel (last axis). */
  batchNorm(x: Tensor, mean: Tensor, variance: Tensor, gamma: Tensor, beta: Tensor, epsilon: number): Tensor;
  /**
   * Training-mode BatchNorm: `moments(x)` then `batchNorm(x, mean, variance, γ, β, ε)` in one call
   * (engines may fuse forward and backward); y's gradient includes the batch statistics' dependence
   * on x. Returns the biased batch variance, like `moments`.
   */
  batchNormTraining(x: Tensor, gamma: Tensor, beta: Tensor, epsilon: number): { y: Tensor; mean: Tensor; variance: Tensor };

  // ---- optimiser arithmetic (engines may fuse these; no gradient) ----
  /**
   * Adam's update of one parameter (Kingma & Ba 2015, Algorithm 1), each step rounded to float32
   * in this order: g = grad·gradScale (skipped when gradScale is 1); m' = m·β₁ + g·(1 − β₁);
   * v' = v·β₂ + g²·(1 − β₂); θ' = θ − (m'·stepSize)/(√(v'·inverseCorrection2) + ε). Returns [θ', m', v'].
   */
  adamUpdate(param: Tensor, m: Tensor, v: Tensor, grad: Tensor, scalars: AdamScalars): [Tensor, Tensor, Tensor];
  /** Σ over the tensors of Σ x², a scalar: each tensor's sum(square(x)), added left to right. */
  sumOfSquares(xs: readonly Tensor[]): Tensor;
  /** target·decay + source·(1 − decay), each product rounded before the sum (an EMA of weights). */
  emaUpdate(target: Tensor, source: Tensor, decay: number): Tensor;
}

/**
 * Adam's scalars for one step, the bias corrections folded in (see TensorEngine.adamUpdate). The
 * native addon's package declares the same shape (it cannot import this browser-side package);
 * backend-node.ts hands its nativeAdamUpdate over as TfjsFusedOps.adamUpdate, so the compiler checks
 * that the two agree.
 */
export interface AdamScalars {
  /** The global-norm clipping factor; 1: no clipping. */
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
