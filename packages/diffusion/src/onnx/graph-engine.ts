import { DiffusionError } from '../errors.ts';
import type { Padding, Tensor, TensorEngine, Variable } from '../tensor/engine.ts';
import type { OnnxAttribute, OnnxGraph, OnnxInitializer, OnnxNode, OnnxValueInfo } from './onnx-proto.ts';
import { ONNX_FLOAT } from './onnx-proto.ts';

/**
 * A `TensorEngine` that records instead of computing: every tensor is symbolic (its shape is known,
 * its values are not) and every op appends ONNX nodes, so running a model's `forward` on it traces
 * the ONE model definition into an ONNX graph. Constants and variables carry values and become
 * initializers (only those the graph uses).
 *
 * Batch dimension. Models compute shapes from `x.shape[0]` with plain numbers, so the trace runs with
 * a sentinel batch, TRACE_BATCH (a large prime no real dimension is a multiple of); a Reshape target
 * dimension that is a multiple of it is the one that carries the batch and is written as −1, so the
 * exported graph accepts any batch size (graph inputs declare the symbolic dimension "N").
 *
 * Layout. The seam is NHWC; ONNX Conv, pooling, Resize and InstanceNormalization are NCHW. With
 * `carryLayout` (the default) each rank-4 tensor remembers whether its physical layout is NHWC or
 * NCHW: convolutions and friends produce NCHW, elementwise ops keep their operand's layout (per-channel
 * constants are reshaped to [C, 1, 1]), concatenation maps the channel axis to 1, and a Transpose
 * is emitted only where an op truly needs the other layout (a Reshape, a MatMul) — for the ContextUnet
 * that is one transpose at the input and one at the output ([N, 1, 1, C] tensors such as its time and
 * context embeddings change layout by a Reshape). Without it every NCHW op is wrapped in a
 * pair of Transposes (kept to measure what ORT's transpose optimiser makes of that).
 */
export const TRACE_BATCH = 1_000_003;

type Layout = 'nhwc' | 'nchw';

/** Logical NHWC axis → its position in the physical NCHW order. */
const NCHW_AXIS = [0, 2, 3, 1];

const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

function unsupported(what: string): never {
  throw new DiffusionError('INVALID_ARGUMENT', `onnx export: ${what} needs tensor values; the ONNX tracer only records eval-mode forward passes`);
}

export class GraphTensor implements Variable {
  constructor(
    private readonly engine: OnnxGraphEngine,
    readonly shape: number[],
    /** The ONNX value name (an initializer's name for constants). */
    readonly onnxName: string,
    /** Physical layout of a rank-4 tensor; 'nhwc' (= logical order) for every other rank. */
    readonly layout: Layout,
    /** Constants and variables: values in physical order; null for computed tensors. */
    public value: Float32Array | null,
    /**
     * A constant whose values are made only when the initializer is written (a re-laid-out filter
     * of an aliased weight), so an export never holds every re-laid-out copy at once.
     */
    readonly lazyValue: (() => Float32Array) | null = null,
  ) {}
  get size(): number {
    return product(this.shape);
  }
  dispose(): void {
    this.engine.released += 1;
  }
  assign(value: Tensor): void {
    const v = value as GraphTensor;
    if (!this.value || !v.value) throw new DiffusionError('INVALID_ARGUMENT', `onnx export: only constants can be assigned (${this.onnxName})`);
    if (v.size !== this.size) throw new DiffusionError('SHAPE_MISMATCH', `onnx export: assign [${v.shape}] to [${this.shape}]`);
    this.value = this.layout === v.layout ? v.value.slice() : (this.engine.constantValues(v, this.layout) as Float32Array);
  }
}

export interface OnnxGraphEngineOptions {
  /** Carry NCHW through the trace (default true); false wraps each NCHW op in Transposes. */
  carryLayout?: boolean;
  /**
   * Constants and variables keep the caller's arrays instead of copying them (the caller promises
   * not to change them while the graph is alive): exporting SD-1.5's UNet then holds its 3.4 GB of
   * weights once.
   */
  aliasValues?: boolean;
}

export class OnnxGraphEngine implements TensorEngine {
  readonly name = 'onnx-trace';
  readonly symbolic = true;
  readonly nodes: OnnxNode[] = [];
  private readonly inputs: Array<{ info: OnnxValueInfo; tensor: GraphTensor }> = [];
  private readonly outputs: OnnxValueInfo[] = [];
  private readonly usedConstants = new Map<string, GraphTensor>();
  private readonly int64Constants = new Map<string, OnnxInitializer>();
  private readonly names = new Set<string>();
  private readonly layoutCache = new WeakMap<GraphTensor, GraphTensor>();
  private readonly carryLayout: boolean;
  private readonly aliasValues: boolean;
  private counter = 0;
  created = 0;
  released = 0;

  constructor(options: OnnxGraphEngineOptions = {}) {
    this.carryLayout = options.carryLayout ?? true;
    this.aliasValues = options.aliasValues ?? false;
  }

  // ---- graph plumbing ----

  private uniqueName(base: string): string {
    let name = base;
    while (this.names.has(name)) name = `${base}_${++this.counter}`;
    this.names.add(name);
    return name;
  }

  private make(shape: readonly number[], onnxName: string, layout: Layout, value: Float32Array | null): GraphTensor {
    this.created += 1;
    return new GraphTensor(this, shape.slice(), onnxName, shape.length === 4 ? layout : 'nhwc', value);
  }

  private constant(values: Float32Array, shape: readonly number[], layout: Layout = 'nhwc', base = 'const'): GraphTensor {
    return this.make(shape, this.uniqueName(base), layout, values);
  }

  /** An input's ONNX name; constants are registered as initializers on first use. */
  private use(t: Tensor): string {
    const g = t as GraphTensor;
    if (g.value || g.lazyValue) this.usedConstants.set(g.onnxName, g);
    return g.onnxName;
  }

  private int64(values: readonly number[], base = 'shape'): string {
    const name = this.uniqueName(base);
    this.int64Constants.set(name, { name, dims: [values.length], data: BigInt64Array.from(values.map((v) => BigInt(v))) });
    return name;
  }

  private emit(opType: string, inputs: string[], shape: readonly number[], layout: Layout, attributes?: OnnxAttribute[]): GraphTensor {
    const out = this.uniqueName(`${opType.toLowerCase()}_${this.nodes.length}`);
    this.nodes.push({ opType, inputs, outputs: [out], name: out, ...(attributes ? { attributes } : {}) });
    return this.make(shape, out, layout, null);
  }

  private physicalShape(t: GraphTensor): number[] {
    const s = t.shape;
    return t.layout === 'nchw' ? [s[0], s[3], s[1], s[2]] : s.slice();
  }

  /** A constant's values in the requested physical layout (NHWC ↔ NCHW permutation in JS). */
  constantValues(t: GraphTensor, layout: Layout): Float32Array | null {
    if (!t.value) return null;
    if (t.shape.length !== 4 || t.layout === layout) return t.value;
    const [n, h, w, c] = t.shape;
    const out = new Float32Array(t.value.length);
    for (let b = 0; b < n; b++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          for (let k = 0; k < c; k++) {
            const nhwc = ((b * h + y) * w + x) * c + k;
            const nchw = ((b * c + k) * h + y) * w + x;
            if (layout === 'nchw') out[nchw] = t.value[nhwc];
            else out[nhwc] = t.value[nchw];
          }
        }
      }
    }
    return out;
  }

  private relayout(t: GraphTensor, layout: Layout): GraphTensor {
    if (t.shape.length !== 4 || t.layout === layout) return t;
    const cached = this.layoutCache.get(t);
    if (cached && cached.layout === layout) return cached;
    let out: GraphTensor;
    const [, h, w, c] = t.shape;
    if (t.value) out = this.constant(this.constantValues(t, layout) as Float32Array, t.shape, layout, `${t.onnxName}_${layout}`);
    else if (h === 1 && w === 1) {
      // [N, 1, 1, C] and [N, C, 1, 1] hold the same bytes: a Reshape (0 copies N), not a Transpose.
      out = this.emit('Reshape', [t.onnxName, this.int64(layout === 'nchw' ? [0, c, 1, 1] : [0, 1, 1, c])], t.shape, layout);
    } else out = this.emit('Transpose', [t.onnxName], t.shape, layout, [{ name: 'perm', kind: 'ints', value: layout === 'nchw' ? [0, 3, 1, 2] : [0, 2, 3, 1] }]);
    this.layoutCache.set(t, out);
    return out;
  }

  private toNchw(t: Tensor): GraphTensor {
    return this.relayout(t as GraphTensor, 'nchw');
  }

  private toNhwc(t: Tensor): GraphTensor {
    return this.relayout(t as GraphTensor, 'nhwc');
  }

  /** Output of an op that computes in NCHW: kept so when carrying the layout, else turned back at once. */
  private settle(t: GraphTensor): GraphTensor {
    return this.carryLayout ? t : this.toNhwc(t);
  }

  /** A Reshape target: the dimension holding the trace batch becomes −1 (so any batch size works). */
  private reshapeTarget(shape: readonly number[]): string {
    const batchDims = shape.filter((d) => d >= TRACE_BATCH && d % TRACE_BATCH === 0).length;
    if (batchDims > 1) throw new DiffusionError('SHAPE_MISMATCH', `onnx export: reshape to [${shape}] splits the batch dimension`);
    return this.int64(shape.map((d) => (d >= TRACE_BATCH && d % TRACE_BATCH === 0 ? -1 : d)));
  }

  /** A tensor with the batch dimension (e.g. zeros([N, 1])) cannot be a constant: ConstantOfShape of the input's batch. */
  private batchShapeTensor(shape: readonly number[]): string {
    const source = this.inputs[0]?.tensor;
    if (!source) throw new DiffusionError('INVALID_ARGUMENT', 'onnx export: a batch-sized constant before any graph input');
    const shapeOf = this.emit('Shape', [source.onnxName], [source.shape.length], 'nhwc');
    const batch = this.emit('Slice', [shapeOf.onnxName, this.int64([0]), this.int64([1])], [1], 'nhwc');
    const parts = shape.map((d) => (d === TRACE_BATCH ? batch.onnxName : this.int64([d])));
    return this.emit('Concat', parts, [shape.length], 'nhwc', [{ name: 'axis', kind: 'int', value: 0 }]).onnxName;
  }

  // ---- exporter hooks ----

  /** Declare a float graph input; dimensions equal to TRACE_BATCH become the symbolic "N". */
  input(name: string, shape: readonly number[]): GraphTensor {
    const t = this.make(shape, this.uniqueName(name), 'nhwc', null);
    this.inputs.push({ tensor: t, info: { name: t.onnxName, elemType: ONNX_FLOAT, dims: shape.map((d) => (d === TRACE_BATCH ? 'N' : d)) } });
    return t;
  }

  /** Declare a graph output (always in the seam's NHWC layout). */
  output(name: string, t: Tensor): void {
    const g = this.toNhwc(t);
    const out = this.uniqueName(name);
    this.nodes.push({ opType: 'Identity', inputs: [this.use(g)], outputs: [out], name: out });
    this.outputs.push({ name: out, elemType: ONNX_FLOAT, dims: g.shape.map((d) => (d === TRACE_BATCH ? 'N' : d)) });
  }

  /** The recorded graph. Inputs that the traced forward never read are left out. */
  graph(name: string): OnnxGraph {
    const read = new Set(this.nodes.flatMap((n) => n.inputs));
    const initializers: OnnxInitializer[] = [];
    for (const t of this.usedConstants.values()) initializers.push({ name: t.onnxName, dims: this.physicalShape(t), data: t.value ?? (t.lazyValue as () => Float32Array) });
    initializers.push(...this.int64Constants.values());
    return {
      name,
      nodes: this.nodes,
      initializers,
      inputs: this.inputs.filter((i) => read.has(i.info.name)).map((i) => i.info),
      outputs: this.outputs,
    };
  }

  // ---- memory and host transfer ----

  tensor(values: Float32Array, shape: readonly number[]): Tensor {
    if (values.length !== product(shape)) throw new DiffusionError('SHAPE_MISMATCH', `onnx export: ${values.length} values for shape [${shape}]`);
    return this.constant(this.aliasValues ? values : values.slice(), shape);
  }
  scalar(value: number): Tensor {
    return this.constant(Float32Array.of(value), []);
  }
  zeros(shape: readonly number[]): Tensor {
    if (shape.includes(TRACE_BATCH)) return this.emit('ConstantOfShape', [this.batchShapeTensor(shape)], shape, 'nhwc');
    return this.constant(new Float32Array(product(shape)), shape);
  }
  variable(initial: Tensor, name: string, _trainable?: boolean): Variable {
    const g = initial as GraphTensor;
    if (!g.value) unsupported(`variable "${name}" from a computed tensor`);
    return this.constant(this.aliasValues ? g.value : g.value.slice(), g.shape, g.layout, name);
  }
  readSync(_x: Tensor): Float32Array {
    return unsupported('readSync');
  }
  read(_x: Tensor): Promise<Float32Array> {
    return unsupported('read');
  }
  tidy<T extends Tensor | Tensor[] | void | number>(fn: () => T): T {
    return fn();
  }
  keep<T extends Tensor>(x: T): T {
    return x;
  }
  numTensors(): number {
    return this.created - this.released;
  }
  valueAndGrads(_loss: () => Tensor, _variables: readonly Variable[]): { value: Tensor; grads: Tensor[] } {
    return unsupported('valueAndGrads (training)');
  }

  // ---- elementwise ----

  /** The operand as an input of an op on an NCHW rank-4 tensor: rank-4 operands are transposed, lower ranks padded to [1, …, C] then placed as [1, C, 1, 1]. */
  private nchwOperand(t: GraphTensor): string {
    if (t.size === 1 && t.shape.length <= 4) return this.use(t); // broadcasts the same in any layout
    if (t.shape.length === 4) return this.use(this.toNchw(t));
    const padded = [1, 1, 1, 1, ...t.shape].slice(-4);
    const as4 = t.value ? this.constant(t.value, padded) : this.emit('Reshape', [t.onnxName, this.reshapeTarget(padded)], padded, 'nhwc');
    return this.use(this.toNchw(as4));
  }

  private binary(opType: string, a: Tensor, b: Tensor): GraphTensor {
    const ga = a as GraphTensor;
    const gb = b as GraphTensor;
    const rank = Math.max(ga.shape.length, gb.shape.length);
    const shape: number[] = [];
    for (let i = 0; i < rank; i++) {
      const da = ga.shape[ga.shape.length - rank + i] ?? 1;
      const db = gb.shape[gb.shape.length - rank + i] ?? 1;
      if (da !== db && da !== 1 && db !== 1) throw new DiffusionError('SHAPE_MISMATCH', `onnx export: ${opType} of [${ga.shape}] and [${gb.shape}]`);
      shape.push(da === 1 ? db : da);
    }
    if (rank === 4 && (ga.layout === 'nchw' || gb.layout === 'nchw')) {
      return this.emit(opType, [this.nchwOperand(ga), this.nchwOperand(gb)], shape, 'nchw');
    }
    return this.emit(opType, [this.use(ga), this.use(gb)], shape, 'nhwc');
  }

  private unary(opType: string, x: Tensor): GraphTensor {
    const g = x as GraphTensor;
    return this.emit(opType, [this.use(g)], g.shape, g.layout);
  }

  add(a: Tensor, b: Tensor): Tensor {
    return this.binary('Add', a, b);
  }
  sub(a: Tensor, b: Tensor): Tensor {
    return this.binary('Sub', a, b);
  }
  mul(a: Tensor, b: Tensor): Tensor {
    return this.binary('Mul', a, b);
  }
  div(a: Tensor, b: Tensor): Tensor {
    return this.binary('Div', a, b);
  }
  addScalar(a: Tensor, s: number): Tensor {
    return this.binary('Add', a, this.scalar(s));
  }
  mulScalar(a: Tensor, s: number): Tensor {
    return this.binary('Mul', a, this.scalar(s));
  }
  square(x: Tensor): Tensor {
    return this.binary('Mul', x, x);
  }
  sqrt(x: Tensor): Tensor {
    return this.unary('Sqrt', x);
  }
  exp(x: Tensor): Tensor {
    return this.unary('Exp', x);
  }
  sin(x: Tensor): Tensor {
    return this.unary('Sin', x);
  }
  cos(x: Tensor): Tensor {
    return this.unary('Cos', x);
  }
  relu(x: Tensor): Tensor {
    return this.unary('Relu', x);
  }
  sigmoid(x: Tensor): Tensor {
    return this.unary('Sigmoid', x);
  }
  gelu(x: Tensor): Tensor {
    // 0.5·x·(1 + erf(x/√2)) in the node order of PyTorch's exporter (Div, Erf, Add, Mul, Mul), which
    // ORT's GeluFusion recognises and replaces with one Gelu kernel.
    const erf = this.unary('Erf', this.binary('Div', x, this.scalar(Math.SQRT2)));
    return this.binary('Mul', this.binary('Mul', x, this.binary('Add', erf, this.scalar(1))), this.scalar(0.5));
  }
  silu(x: Tensor): Tensor {
    return this.binary('Mul', x, this.unary('Sigmoid', x));
  }

  // ---- reductions ----

  private reduce(opType: 'ReduceMean' | 'ReduceSum', x: Tensor, axes: number[] | undefined, keepDims: boolean): Tensor {
    let g = x as GraphTensor;
    const rank = g.shape.length;
    const logical = (axes ?? g.shape.map((_, i) => i)).map((a) => (a < 0 ? a + rank : a));
    if (g.layout === 'nchw' && !keepDims) {
      // The kept axes come out in physical order; fall back to NHWC when that differs from the logical one.
      const kept = [0, 1, 2, 3].filter((a) => !logical.includes(a));
      const physical = kept.map((a) => NCHW_AXIS[a]);
      if (physical.some((p, i) => i > 0 && p < physical[i - 1])) g = this.toNhwc(g);
    }
    const physicalAxes = logical.map((a) => (g.layout === 'nchw' ? NCHW_AXIS[a] : a)).sort((a, b) => a - b);
    const shape = keepDims ? g.shape.map((d, i) => (logical.includes(i) ? 1 : d)) : g.shape.filter((_, i) => !logical.includes(i));
    const keep: OnnxAttribute = { name: 'keepdims', kind: 'int', value: keepDims ? 1 : 0 };
    // Opset 17: ReduceMean takes axes as an attribute, ReduceSum (since opset 13) as an input.
    if (opType === 'ReduceMean') return this.emit(opType, [this.use(g)], shape, g.layout, [{ name: 'axes', kind: 'ints', value: physicalAxes }, keep]);
    return this.emit(opType, [this.use(g), this.int64(physicalAxes, 'axes')], shape, g.layout, [keep]);
  }
  mean(x: Tensor, axes?: number[], keepDims = false): Tensor {
    return this.reduce('ReduceMean', x, axes, keepDims);
  }
  sum(x: Tensor, axes?: number[], keepDims = false): Tensor {
    return this.reduce('ReduceSum', x, axes, keepDims);
  }

  // ---- shape ----

  reshape(x: Tensor, shape: readonly number[]): Tensor {
    const g = this.toNhwc(x);
    if (product(shape) !== g.size) throw new DiffusionError('SHAPE_MISMATCH', `onnx export: reshape [${g.shape}] to [${shape}]`);
    if (g.value) return this.constant(g.value, shape);
    return this.emit('Reshape', [g.onnxName, this.reshapeTarget(shape)], shape, 'nhwc');
  }
  transpose(x: Tensor, perm: readonly number[]): Tensor {
    const g = this.toNhwc(x);
    return this.emit('Transpose', [this.use(g)], perm.map((p) => g.shape[p]), 'nhwc', [{ name: 'perm', kind: 'ints', value: perm.slice() }]);
  }
  concat(xs: Tensor[], axis: number): Tensor {
    const gs = xs as GraphTensor[];
    const rank = gs[0].shape.length;
    const a = axis < 0 ? axis + rank : axis;
    const nchw = rank === 4 && gs.some((g) => g.layout === 'nchw');
    const parts = gs.map((g) => (nchw ? this.toNchw(g) : this.toNhwc(g)));
    const shape = gs[0].shape.slice();
    shape[a] = gs.reduce((s, g) => s + g.shape[a], 0);
    return this.emit('Concat', parts.map((p) => this.use(p)), shape, nchw ? 'nchw' : 'nhwc', [{ name: 'axis', kind: 'int', value: nchw ? NCHW_AXIS[a] : a }]);
  }

  slice(x: Tensor, begin: readonly number[], size: readonly number[]): Tensor {
    const g = this.toNhwc(x);
    const axes: number[] = [];
    const starts: number[] = [];
    const ends: number[] = [];
    const shape = g.shape.slice();
    g.shape.forEach((dim, axis) => {
      const length = size[axis] === -1 ? dim - begin[axis] : size[axis];
      if (begin[axis] === 0 && length === dim) return;
      if (dim >= TRACE_BATCH) unsupported('slice of the batch dimension');
      axes.push(axis);
      starts.push(begin[axis]);
      ends.push(begin[axis] + length);
      shape[axis] = length;
    });
    if (axes.length === 0) return g;
    return this.emit('Slice', [this.use(g), this.int64(starts, 'starts'), this.int64(ends, 'ends'), this.int64(axes, 'axes')], shape, 'nhwc');
  }
  gather(table: Tensor, indices: Int32Array): Tensor {
    const g = this.toNhwc(table);
    const name = this.uniqueName('indices');
    this.int64Constants.set(name, { name, dims: [indices.length], data: BigInt64Array.from(Array.from(indices, (i) => BigInt(i))) });
    return this.emit('Gather', [this.use(g), name], [indices.length, g.shape[1]], 'nhwc', [{ name: 'axis', kind: 'int', value: 0 }]);
  }

  // ---- linear algebra and convolution ----

  matMul(a: Tensor, b: Tensor, transposeA = false, transposeB = false): Tensor {
    const swapLast = (t: GraphTensor): GraphTensor => {
      const r = t.shape.length;
      const perm = t.shape.map((_, i) => i);
      [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
      return this.transpose(t, perm) as GraphTensor;
    };
    let ga = this.toNhwc(a);
    let gb = this.toNhwc(b);
    if (transposeA) ga = swapLast(ga);
    if (transposeB) gb = swapLast(gb);
    const shape = [...ga.shape.slice(0, -1), gb.shape[gb.shape.length - 1]];
    if (ga.shape[ga.shape.length - 1] !== gb.shape[gb.shape.length - 2]) throw new DiffusionError('SHAPE_MISMATCH', `onnx export: matMul [${ga.shape}] × [${gb.shape}]`);
    return this.emit('MatMul', [this.use(ga), this.use(gb)], shape, 'nhwc');
  }

  /** A filter in ONNX order: the seam's [kh, kw, a, b] becomes [b, a, kh, kw] (Conv: [out, in, kh, kw]; ConvTranspose: [in, out, kh, kw]). */
  private onnxFilter(filter: Tensor): string {
    const f = filter as GraphTensor;
    const [kh, kw, a, b] = f.shape;
    if (!f.value) return this.use(this.emit('Transpose', [f.onnxName], [b, a, kh, kw], 'nhwc', [{ name: 'perm', kind: 'ints', value: [3, 2, 0, 1] }]));
    const source = f.value;
    const relayout = (): Float32Array => {
      const out = new Float32Array(source.length);
      for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < a; i++) for (let o = 0; o < b; o++) out[((o * a + i) * kh + y) * kw + x] = source[((y * kw + x) * a + i) * b + o];
      return out;
    };
    const name = this.uniqueName(`${f.onnxName}_oihw`);
    if (this.aliasValues) {
      this.created += 1;
      return this.use(new GraphTensor(this, [b, a, kh, kw], name, 'nhwc', null, relayout));
    }
    return this.use(this.make([b, a, kh, kw], name, 'nhwc', relayout()));
  }

  conv2d(x: Tensor, filter: Tensor, stride: number, padding: Padding, bias?: Tensor): Tensor {
    const g = this.toNchw(x);
    const [n, h, w] = g.shape;
    const [kh, kw, , outChannels] = filter.shape;
    // TensorFlow's padding: 'valid' none; 'same' out = ⌈in/s⌉, total = max((out−1)·s + k − in, 0), the odd pixel after.
    const pads = (size: number, k: number): [number, number, number] => {
      if (padding === 'valid') return [Math.floor((size - k) / stride) + 1, 0, 0];
      const out = Math.ceil(size / stride);
      const total = Math.max((out - 1) * stride + k - size, 0);
      return [out, Math.floor(total / 2), total - Math.floor(total / 2)];
    };
    const [oh, top, bottom] = pads(h, kh);
    const [ow, left, right] = pads(w, kw);
    const inputs = [this.use(g), this.onnxFilter(filter)];
    if (bias) inputs.push(this.use(this.toNhwc(bias)));
    const y = this.emit('Conv', inputs, [n, oh, ow, outChannels], 'nchw', [
      { name: 'kernel_shape', kind: 'ints', value: [kh, kw] },
      { name: 'strides', kind: 'ints', value: [stride, stride] },
      { name: 'pads', kind: 'ints', value: [top, left, bottom, right] },
      { name: 'dilations', kind: 'ints', value: [1, 1] },
    ]);
    return this.settle(y);
  }

  conv2dTranspose(x: Tensor, filter: Tensor, outShape: readonly number[], stride: number, padding: Padding): Tensor {
    const g = this.toNchw(x);
    const [n, h, w] = g.shape;
    const [kh, kw, outChannels] = filter.shape;
    // ConvTranspose output = s·(in − 1) + k − padBegin − padEnd; 'same' targets s·in (TensorFlow), 'valid' no padding.
    const pads = (size: number, k: number): [number, number, number] => {
      const total = padding === 'same' ? Math.max(stride * (size - 1) + k - stride * size, 0) : 0;
      return [stride * (size - 1) + k - total, Math.floor(total / 2), total - Math.floor(total / 2)];
    };
    const [oh, top, bottom] = pads(h, kh);
    const [ow, left, right] = pads(w, kw);
    if (outShape[1] !== oh || outShape[2] !== ow || outShape[3] !== outChannels) {
      throw new DiffusionError('SHAPE_MISMATCH', `onnx export: conv2dTranspose to [${outShape}] (ONNX gives [${n},${oh},${ow},${outChannels}])`);
    }
    const y = this.emit('ConvTranspose', [this.use(g), this.onnxFilter(filter)], [n, oh, ow, outChannels], 'nchw', [
      { name: 'kernel_shape', kind: 'ints', value: [kh, kw] },
      { name: 'strides', kind: 'ints', value: [stride, stride] },
      { name: 'pads', kind: 'ints', value: [top, left, bottom, right] },
    ]);
    return this.settle(y);
  }

  private pool(opType: 'MaxPool' | 'AveragePool', x: Tensor, size: number): Tensor {
    const g = this.toNchw(x);
    const [n, h, w, c] = g.shape;
    const y = this.emit(opType, [this.use(g)], [n, Math.floor(h / size), Math.floor(w / size), c], 'nchw', [
      { name: 'kernel_shape', kind: 'ints', value: [size, size] },
      { name: 'strides', kind: 'ints', value: [size, size] },
    ]);
    return this.settle(y);
  }
  maxPool(x: Tensor, size: number): Tensor {
    return this.pool('MaxPool', x, size);
  }
  avgPool(x: Tensor, size: number): Tensor {
    return this.pool('AveragePool', x, size);
  }
  upsampleNearest(x: Tensor, factor: number): Tensor {
    const g = this.toNchw(x);
    const [n, h, w, c] = g.shape;
    // tfjs resizeNearestNeighbor (no corner alignment, no half-pixel centres): src = ⌊dst/f⌋, which is
    // ONNX Resize with coordinate_transformation_mode "asymmetric" and nearest_mode "floor".
    const scales = this.use(this.constant(Float32Array.of(1, 1, factor, factor), [4], 'nhwc', 'scales'));
    const y = this.emit('Resize', [this.use(g), '', scales], [n, h * factor, w * factor, c], 'nchw', [
      { name: 'mode', kind: 'string', value: 'nearest' },
      { name: 'coordinate_transformation_mode', kind: 'string', value: 'asymmetric' },
      { name: 'nearest_mode', kind: 'string', value: 'floor' },
    ]);
    return this.settle(y);
  }
  resizeNearest(x: Tensor, height: number, width: number): Tensor {
    const g = this.toNchw(x);
    const [n, , , c] = g.shape;
    if (n >= TRACE_BATCH) unsupported('resizeNearest to fixed sizes with a symbolic batch (use upsampleNearest)');
    const sizes = this.int64([n, c, height, width], 'sizes');
    const y = this.emit('Resize', [this.use(g), '', '', sizes], [n, height, width, c], 'nchw', [
      { name: 'mode', kind: 'string', value: 'nearest' },
      { name: 'coordinate_transformation_mode', kind: 'string', value: 'asymmetric' },
      { name: 'nearest_mode', kind: 'string', value: 'floor' },
    ]);
    return this.settle(y);
  }
  pad2d(x: Tensor, top: number, bottom: number, left: number, right: number): Tensor {
    const g = this.toNchw(x);
    const [n, h, w, c] = g.shape;
    // ONNX Pad (opset ≥ 11): pads = [begin of each axis…, end of each axis…] in the physical NCHW order.
    const pads = this.int64([0, 0, top, left, 0, 0, bottom, right], 'pads');
    return this.settle(this.emit('Pad', [this.use(g), pads], [n, h + top + bottom, w + left + right, c], 'nchw'));
  }
  private softmaxLike(opType: 'Softmax' | 'LogSoftmax', x: Tensor): Tensor {
    const g = x as GraphTensor;
    const axis = g.layout === 'nchw' ? 1 : g.shape.length - 1;
    return this.emit(opType, [this.use(g)], g.shape, g.layout, [{ name: 'axis', kind: 'int', value: axis }]);
  }
  softmax(x: Tensor): Tensor {
    return this.softmaxLike('Softmax', x);
  }
  logSoftmax(x: Tensor): Tensor {
    return this.softmaxLike('LogSoftmax', x);
  }

  // ---- normalisation ----

  groupNorm(x: Tensor, groups: number, gamma: Tensor, beta: Tensor, epsilon: number): Tensor {
    // GroupNorm as PyTorch's exporter writes it: view [N, G, C/G·H·W], InstanceNormalization with unit
    // scale and zero bias (per-(sample, group) mean and biased variance), view back, then γ and β per channel.
    const g = this.toNchw(x);
    const [n, h, w, c] = g.shape;
    const grouped = this.emit('Reshape', [this.use(g), this.int64([0, groups, -1])], [n, groups, (c / groups) * h * w], 'nhwc');
    const ones = this.use(this.constant(new Float32Array(groups).fill(1), [groups], 'nhwc', 'gn_scale'));
    const zeros = this.use(this.constant(new Float32Array(groups), [groups], 'nhwc', 'gn_bias'));
    const normed = this.emit('InstanceNormalization', [grouped.onnxName, ones, zeros], grouped.shape, 'nhwc', [{ name: 'epsilon', kind: 'float', value: epsilon }]);
    const back = this.emit('Reshape', [normed.onnxName, this.int64([0, c, h, w])], [n, h, w, c], 'nchw');
    return this.settle(this.binary('Add', this.binary('Mul', back, gamma), beta));
  }
  layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, epsilon: number): Tensor {
    // LayerNormalization (opset 17) over the last axis, one fused ORT kernel.
    const g = this.toNhwc(x);
    return this.emit('LayerNormalization', [this.use(g), this.use(this.toNhwc(gamma)), this.use(this.toNhwc(beta))], g.shape, 'nhwc', [
      { name: 'axis', kind: 'int', value: -1 },
      { name: 'epsilon', kind: 'float', value: epsilon },
    ]);
  }
  moments(x: Tensor): { mean: Tensor; variance: Tensor } {
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    const mean = this.mean(x, axes);
    return { mean, variance: this.mean(this.square(this.sub(x, mean)), axes) };
  }
  batchNorm(x: Tensor, mean: Tensor, variance: Tensor, gamma: Tensor, beta: Tensor, epsilon: number): Tensor {
    const [m, v, s, b] = [mean, variance, gamma, beta].map((t) => this.constantValues(t as GraphTensor, 'nhwc'));
    if (m && v && s && b) {
      // Eval-mode BatchNorm folded at export: y = x·scale + shift, scale = γ/√(σ² + ε), shift = β − μ·scale
      // (ORT then folds the Mul and Add into the preceding Conv's weights and bias).
      const channels = m.length;
      const scale = new Float32Array(channels);
      const shift = new Float32Array(channels);
      for (let k = 0; k < channels; k++) {
        scale[k] = s[k] / Math.sqrt(v[k] + epsilon);
        shift[k] = b[k] - m[k] * scale[k];
      }
      return this.binary('Add', this.binary('Mul', x, this.constant(scale, [channels], 'nhwc', 'bn_scale')), this.constant(shift, [channels], 'nhwc', 'bn_shift'));
    }
    const normed = this.div(this.sub(x, mean), this.sqrt(this.addScalar(variance, epsilon)));
    return this.add(this.mul(normed, gamma), beta);
  }
  batchNormTraining(_x: Tensor, _gamma: Tensor, _beta: Tensor, _epsilon: number): { y: Tensor; mean: Tensor; variance: Tensor } {
    return unsupported('batchNormTraining (training mode)');
  }
  adamUpdate(): [Tensor, Tensor, Tensor] {
    return unsupported('adamUpdate (training)');
  }
  sumOfSquares(): Tensor {
    return unsupported('sumOfSquares (training)');
  }
  emaUpdate(): Tensor {
    return unsupported('emaUpdate (training)');
  }
}
