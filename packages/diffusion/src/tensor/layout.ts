/**
 * NCHW ↔ NHWC for host arrays: PyTorch files and diffusers' tensors are NCHW (N × C × H × W), the
 * tensor seam is NHWC. Used where data crosses that boundary (latents, goldens, .npy files).
 */
export function nchwToNhwc(data: Float32Array, n: number, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let b = 0; b < n; b++) for (let k = 0; k < c; k++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[((b * h + y) * w + x) * c + k] = data[((b * c + k) * h + y) * w + x];
  return out;
}

export function nhwcToNchw(data: Float32Array, n: number, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let b = 0; b < n; b++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[((b * c + k) * h + y) * w + x] = data[((b * h + y) * w + x) * c + k];
  return out;
}
