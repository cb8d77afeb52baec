/**
 * The 'native' backend's data-movement kernels: Slice, SplitV, Concat, PadV2, Tile, Transpose,
 * GatherV2 (axis 0) and ResizeNearestNeighbor (NHWC, tfjs's default rule). Each is a strided or block
 * copy — one native strided copy (native/layout.cc, OpenMP) or typed-array `set`s — instead of
 * tfjs-backend-cpu's per-element index arithmetic in JavaScript (concat's gradient slices channels out
 * of [N,H,W,C] tensors; the transposed convolutions and attention reshuffle axes; the UNet's
 * Upsample2D and token embedding gather rows). Like every replacement in backend.ts, each checks that
 * it can serve the call and otherwise hands it to the cpu kernel it replaced.
 * Upstream counterpart: tfjs-backend-cpu's kernels of the same names (src/kernels/*.ts).
 */
import type * as TF from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { allFloat, type Attrs, type KernelContext, type KernelOverride, values } from './kernel-table.ts';
import { takeBuffer } from './pool.ts';
import { regionCopy, sizeOf, type StridedCopy, tileInto, transposeCopy } from './shapes.ts';

type TensorInfo = TF.TensorInfo;

/** The overrides this file owns, by tfjs kernel name. */
export function layoutKernels({ tf, addon }: KernelContext): Record<string, KernelOverride> {
  const bu = tf.backend_util;
  const kernels: Record<string, KernelOverride> = {};
  const copy = (src: Float32Array, dst: Float32Array, c: StridedCopy): void => {
    addon.copyStrided(src, c.srcOffset, dst, c.dstOffset, c.dims, c.srcStrides, c.dstStrides);
  };
  kernels.Slice = (p, fb) => {
    const x = (p.inputs as { x: TensorInfo }).x;
    const attrs = p.attrs as Attrs;
    if (!allFloat(x) || x.shape.length === 0) return fb(p);
    const backend = p.backend as MathBackendCPU;
    const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as TF.Tensor, attrs.begin as number[], attrs.size as number[]);
    const out = takeBuffer(sizeOf(size));
    if (out.length > 0) copy(values(backend, x), out, regionCopy(x.shape, begin, size, size.map(() => 0), size));
    return backend.makeTensorInfo(size, 'float32', out);
  };
  kernels.SplitV = (p, fb) => {
    const x = (p.inputs as { x: TensorInfo }).x;
    const attrs = p.attrs as Attrs;
    if (!allFloat(x) || x.shape.length === 0) return fb(p);
    const backend = p.backend as MathBackendCPU;
    const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
    const sizes = bu.prepareSplitSize(x as unknown as TF.Tensor, attrs.numOrSizeSplits as number | number[], axis);
    const begin = x.shape.map(() => 0);
    const src = values(backend, x);
    return sizes.map((s) => {
      const size = [...x.shape];
      size[axis] = s;
      const out = takeBuffer(sizeOf(size));
      if (out.length > 0) copy(src, out, regionCopy(x.shape, begin, size, size.map(() => 0), size));
      begin[axis] += s;
      return backend.makeTensorInfo(size, 'float32', out);
    });
  };
  kernels.Concat = (p, fb) => {
    const inputs = p.inputs as unknown as TensorInfo[];
    const attrs = p.attrs as Attrs;
    if (!Array.isArray(inputs) || inputs.length < 2 || !allFloat(...inputs)) return fb(p);
    const rank = inputs[0].shape.length;
    if (rank === 0 || inputs.some((t) => t.shape.length !== rank || sizeOf(t.shape) === 0)) return fb(p);
    const axis = tf.util.parseAxisParam(attrs.axis as number, inputs[0].shape)[0];
    const outShape = [...inputs[0].shape];
    outShape[axis] = inputs.reduce((s, t) => s + t.shape[axis], 0);
    for (const t of inputs) {
      if (t.shape.some((d, i) => i !== axis && d !== outShape[i])) return fb(p);
    }
    const backend = p.backend as MathBackendCPU;
    const out = takeBuffer(sizeOf(outShape));
    const dstBegin = outShape.map(() => 0);
    for (const t of inputs) {
      copy(values(backend, t), out, regionCopy(t.shape, t.shape.map(() => 0), outShape, dstBegin, t.shape));
      dstBegin[axis] += t.shape[axis];
    }
    return backend.makeTensorInfo(outShape, 'float32', out);
  };
  // Constant padding (pad2d before a 'valid' stride-2 convolution): fill, then the input into the interior.
  kernels.PadV2 = (p, fb) => {
    const x = (p.inputs as { x: TensorInfo }).x;
    const attrs = p.attrs as Attrs;
    const paddings = attrs.paddings as Array<[number, number]>;
    if (!allFloat(x) || x.shape.length === 0 || sizeOf(x.shape) === 0 || paddings.length !== x.shape.length) return fb(p);
    if (paddings.some(([before, after]) => before < 0 || after < 0)) return fb(p);
    const backend = p.backend as MathBackendCPU;
    const outShape = x.shape.map((d, i) => paddings[i][0] + d + paddings[i][1]);
    const out = takeBuffer(sizeOf(outShape));
    out.fill((attrs.constantValue as number) ?? 0);
    copy(values(backend, x), out, regionCopy(x.shape, x.shape.map(() => 0), outShape, paddings.map(([before]) => before), x.shape));
    return backend.makeTensorInfo(outShape, 'float32', out);
  };
  kernels.Tile = (p, fb) => {
    const x = (p.inputs as { x: TensorInfo }).x;
    const reps = (p.attrs as Attrs).reps as number[];
    if (!allFloat(x) || x.shape.length === 0 || reps.length !== x.shape.length || sizeOf(x.shape) === 0) return fb(p);
    const backend = p.backend as MathBackendCPU;
    const outShape = x.shape.map((d, i) => d * reps[i]);
    const out = takeBuffer(sizeOf(outShape));
    if (out.length > 0) tileInto(values(backend, x), x.shape, reps, out);
    return backend.makeTensorInfo(outShape, 'float32', out);
  };
  kernels.Transpose = (p, fb) => {
    const x = (p.inputs as { x: TensorInfo }).x;
    const perm = (p.attrs as Attrs).perm as number[];
    if (!allFloat(x) || x.shape.length === 0 || x.shape.length > 8 || perm.length !== x.shape.length || sizeOf(x.shape) === 0) return fb(p);
    const backend = p.backend as MathBackendCPU;
    const outShape = perm.map((axis) => x.shape[axis]);
    const out = takeBuffer(sizeOf(outShape));
    copy(values(backend, x), out, transposeCopy(x.shape, perm));
    return backend.makeTensorInfo(outShape, 'float32', out);
  };
  // Rows of a table (an embedding lookup: token ids → vectors, a CLIP end-of-text pick): one block
  // copy per index. tfjs-backend-cpu's gatherV2Impl computes every element's coordinates in
  // JavaScript (34 ms for 2,048 rows of 64 at a t2i UNet step). Other axes and batch dims fall back.
  kernels.GatherV2 = (p, fb) => {
    const { x, indices } = p.inputs as { x: TensorInfo; indices: TensorInfo };
    const attrs = p.attrs as Attrs;
    if (!allFloat(x) || x.shape.length === 0 || ((attrs.batchDims as number | undefined) ?? 0) !== 0) return fb(p);
    if (tf.util.parseAxisParam(attrs.axis as number, x.shape)[0] !== 0) return fb(p);
    const backend = p.backend as MathBackendCPU;
    const rows = backend.data.get(indices.dataId).values as ArrayLike<number>;
    const count = x.shape[0];
    // An index out of range is the fallback's error to report (tfjs's own message).
    for (let i = 0; i < rows.length; i++) if (!(rows[i] >= 0 && rows[i] < count)) return fb(p);
    const width = sizeOf(x.shape.slice(1));
    const embedding = values(backend, x);
    const out = takeBuffer(rows.length * width);
    for (let i = 0; i < rows.length; i++) out.set(embedding.subarray(rows[i] * width, (rows[i] + 1) * width), i * width);
    return backend.makeTensorInfo([...indices.shape, ...x.shape.slice(1)], 'float32', out);
  };
  // Nearest-neighbour resize, NHWC: source row = min(H − 1, ⌊r·H/H′⌋) (tfjs's rule without
  // alignCorners and halfPixelCenters: the UNet's Upsample2D), each output pixel one C-long copy.
  kernels.ResizeNearestNeighbor = (p, fb) => {
    const images = (p.inputs as { images: TensorInfo }).images;
    const attrs = p.attrs as Attrs;
    if (!allFloat(images) || images.shape.length !== 4 || attrs.alignCorners || attrs.halfPixelCenters) return fb(p);
    const [batch, height, width, channels] = images.shape;
    const [newHeight, newWidth] = attrs.size as [number, number];
    if (sizeOf(images.shape) === 0 || newHeight * newWidth === 0) return fb(p);
    const backend = p.backend as MathBackendCPU;
    const src = values(backend, images);
    const out = takeBuffer(batch * newHeight * newWidth * channels);
    const sourceColumns = Int32Array.from({ length: newWidth }, (_, c) => Math.min(width - 1, Math.floor((width / newWidth) * c)));
    let at = 0;
    for (let b = 0; b < batch; b++) {
      for (let r = 0; r < newHeight; r++) {
        const row = (b * height + Math.min(height - 1, Math.floor((height / newHeight) * r))) * width;
        for (let c = 0; c < newWidth; c++, at += channels) {
          const from = (row + sourceColumns[c]) * channels;
          out.set(src.subarray(from, from + channels), at);
        }
      }
    }
    return backend.makeTensorInfo([batch, newHeight, newWidth, channels], 'float32', out);
  };
  return kernels;
}
