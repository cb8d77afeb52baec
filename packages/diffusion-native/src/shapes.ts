/**
 * Folding of tfjs shapes into the addon's 4-D views. A broadcast binary op over shapes a and b is
 * rewritten as an output of at most four dimensions where, in each dimension, each operand either
 * runs along (contiguous stride) or is broadcast (stride 0); adjacent dimensions with the same
 * pattern merge, size-1 dimensions vanish. [N,H,W,C] + [C] becomes [1,1,N·H·W,C] with b-strides
 * [0,0,0,1]; [N,H,W,C] · [N,1,1,C] becomes [1,N,H·W,C] with b-strides [0,C,0,1].
 */
export interface BroadcastView {
  dims: Int32Array;
  aStrides: Int32Array;
  bStrides: Int32Array;
}

/** Number of elements of a tensor of this shape. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function broadcastShape(a: readonly number[], b: readonly number[]): number[] | null {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[i - rank + a.length] ?? 1;
    const db = b[i - rank + b.length] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Returns null when the pattern needs more than four dimensions (the caller falls back to JS). */
export function foldBroadcast(a: readonly number[], b: readonly number[], out: readonly number[]): BroadcastView | null {
  const rank = out.length;
  const dims: number[] = [];
  const aRuns: boolean[] = [];
  const bRuns: boolean[] = [];
  for (let i = 0; i < rank; i++) {
    const size = out[i];
    if (size === 1) continue;
    const aAlong = (a[i - rank + a.length] ?? 1) !== 1;
    const bAlong = (b[i - rank + b.length] ?? 1) !== 1;
    const last = dims.length - 1;
    if (last >= 0 && aRuns[last] === aAlong && bRuns[last] === bAlong) {
      dims[last] *= size;
    } else {
      dims.push(size);
      aRuns.push(aAlong);
      bRuns.push(bAlong);
    }
  }
  if (dims.length > 4) return null;
  while (dims.length < 4) {
    dims.unshift(1);
    aRuns.unshift(false);
    bRuns.unshift(false);
  }
  const strides = (runs: boolean[]): Int32Array => {
    const s = new Int32Array(4);
    let step = 1;
    for (let i = 3; i >= 0; i--) {
      if (runs[i]) {
        s[i] = step;
        step *= dims[i];
      }
    }
    return s;
  };
  return { dims: Int32Array.from(dims), aStrides: strides(aRuns), bStrides: strides(bRuns) };
}

export interface ReduceView {
  dims: Int32Array;
  reduceFlags: Int32Array;
  /** Number of input elements folded into each output element. */
  count: number;
}

/** Folds a reduction of `axes` over `shape` into ≤ 4 alternating reduce/keep dimensions, or null. */
export function foldReduce(shape: readonly number[], axes: readonly number[]): ReduceView | null {
  const reduced = new Set(axes);
  const dims: number[] = [];
  const flags: boolean[] = [];
  let count = 1;
  for (let i = 0; i < shape.length; i++) {
    if (reduced.has(i)) count *= shape[i];
    if (shape[i] === 1) continue;
    const flag = reduced.has(i);
    const last = dims.length - 1;
    if (last >= 0 && flags[last] === flag) {
      dims[last] *= shape[i];
    } else {
      dims.push(shape[i]);
      flags.push(flag);
    }
  }
  if (dims.length > 4) return null;
  while (dims.length < 4) {
    dims.unshift(1);
    flags.unshift(false);
  }
  return { dims: Int32Array.from(dims), reduceFlags: Int32Array.from(flags.map((f) => (f ? 1 : 0))), count };
}

/** Element strides of a row-major array of this shape (the last dimension's is 1). */
export function rowMajorStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return strides;
}

/**
 * tf.tile on a row-major array: dimension by dimension from the innermost, the block built for
 * one index is replicated `reps[d]` times with copyWithin (contiguous memmoves, no index maths).
 */
export function tileInto(src: Float32Array, shape: readonly number[], reps: readonly number[], dst: Float32Array): void {
  const rank = shape.length;
  const outShape = shape.map((d, i) => d * reps[i]);
  const srcStrides = rowMajorStrides(shape);
  const dstStrides = rowMajorStrides(outShape);
  const fill = (dim: number, srcOffset: number, dstOffset: number): void => {
    if (dim === rank - 1) {
      const row = src.subarray(srcOffset, srcOffset + shape[dim]);
      for (let r = 0; r < reps[dim]; r++) dst.set(row, dstOffset + r * shape[dim]);
      return;
    }
    for (let i = 0; i < shape[dim]; i++) fill(dim + 1, srcOffset + i * srcStrides[dim], dstOffset + i * dstStrides[dim]);
    const block = shape[dim] * dstStrides[dim];
    for (let r = 1; r < reps[dim]; r++) dst.copyWithin(dstOffset + r * block, dstOffset, dstOffset + block);
  };
  fill(0, 0, 0);
}

/**
 * The addon's strided copy (native/layout.cc): dst[dstOffset + Σ i·dstStrides] = src[srcOffset + Σ
 * i·srcStrides] for every index i < dims. Size-1 dimensions vanish and a dimension merges into the
 * next when both arrays step over it as one longer run, so a channel slice of [N,H,W,C] is
 * [N·H·W, c] and a whole-array copy one run.
 */
export interface StridedCopy {
  srcOffset: number;
  dstOffset: number;
  dims: Int32Array;
  srcStrides: Int32Array;
  dstStrides: Int32Array;
}

export function stridedCopy(
  dims: readonly number[],
  srcOffset: number,
  srcStrides: readonly number[],
  dstOffset: number,
  dstStrides: readonly number[],
): StridedCopy {
  const d: number[] = [];
  const ss: number[] = [];
  const ds: number[] = [];
  for (let i = 0; i < dims.length; i++) {
    if (dims[i] === 1) continue;
    const last = d.length - 1;
    // The previous (outer) dimension folds into this one when it steps exactly over this one's run.
    if (last >= 0 && ss[last] === srcStrides[i] * dims[i] && ds[last] === dstStrides[i] * dims[i]) {
      d[last] *= dims[i];
      ss[last] = srcStrides[i];
      ds[last] = dstStrides[i];
    } else {
      d.push(dims[i]);
      ss.push(srcStrides[i]);
      ds.push(dstStrides[i]);
    }
  }
  if (d.length === 0) {
    d.push(1);
    ss.push(1);
    ds.push(1);
  }
  return { srcOffset, dstOffset, dims: Int32Array.from(d), srcStrides: Int32Array.from(ss), dstStrides: Int32Array.from(ds) };
}

/** The box `size` at `srcBegin` of a row-major `srcShape` array, to `dstBegin` of a row-major `dstShape` one. */
export function regionCopy(
  srcShape: readonly number[],
  srcBegin: readonly number[],
  dstShape: readonly number[],
  dstBegin: readonly number[],
  size: readonly number[],
): StridedCopy {
  const srcStrides = rowMajorStrides(srcShape);
  const dstStrides = rowMajorStrides(dstShape);
  let srcOffset = 0;
  let dstOffset = 0;
  for (let i = 0; i < size.length; i++) {
    srcOffset += srcBegin[i] * srcStrides[i];
    dstOffset += dstBegin[i] * dstStrides[i];
  }
  return stridedCopy(size, srcOffset, srcStrides, dstOffset, dstStrides);
}

/** Transpose of a row-major `shape` array by `perm` (output axis i is input axis perm[i]) into a contiguous output. */
export function transposeCopy(shape: readonly number[], perm: readonly number[]): StridedCopy {
  const inputStrides = rowMajorStrides(shape);
  const outShape = perm.map((axis) => shape[axis]);
  return stridedCopy(outShape, 0, perm.map((axis) => inputStrides[axis]), 0, rowMajorStrides(outShape));
}
