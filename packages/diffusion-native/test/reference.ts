/**
 * Plain reference implementations, float64 loops over NHWC arrays, written for clarity, not speed:
 * the numerical suite compares every backend with these.
 */
export interface Conv2dSpec {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  kH: number;
  kW: number;
  outC: number;
  stride: number;
  padding: 'same' | 'valid';
}

export interface ConvShape {
  outH: number;
  outW: number;
  padTop: number;
  padLeft: number;
}

/** TensorFlow's padding rule: 'valid' no padding; 'same' out = ⌈in/stride⌉, the extra pad at the bottom/right. */
export function convShape(s: Conv2dSpec): ConvShape {
  if (s.padding === 'valid') {
    return { outH: Math.floor((s.inH - s.kH) / s.stride) + 1, outW: Math.floor((s.inW - s.kW) / s.stride) + 1, padTop: 0, padLeft: 0 };
  }
  const outH = Math.ceil(s.inH / s.stride);
  const outW = Math.ceil(s.inW / s.stride);
  const padH = Math.max(0, (outH - 1) * s.stride + s.kH - s.inH);
  const padW = Math.max(0, (outW - 1) * s.stride + s.kW - s.inW);
  return { outH, outW, padTop: Math.floor(padH / 2), padLeft: Math.floor(padW / 2) };
}

/** Visits every (output pixel, filter tap) pair that touches the input: the definition of convolution. */
function forEachTap(s: Conv2dSpec, visit: (xIndex: number, wBase: number, yBase: number) => void): void {
  const { outH, outW, padTop, padLeft } = convShape(s);
  for (let n = 0; n < s.batch; n++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const yBase = ((n * outH + oy) * outW + ox) * s.outC;
        for (let ky = 0; ky < s.kH; ky++) {
          const iy = oy * s.stride - padTop + ky;
          if (iy < 0 || iy >= s.inH) continue;
          for (let kx = 0; kx < s.kW; kx++) {
            const ix = ox * s.stride - padLeft + kx;
            if (ix < 0 || ix >= s.inW) continue;
            for (let ci = 0; ci < s.inC; ci++) {
              visit(((n * s.inH + iy) * s.inW + ix) * s.inC + ci, ((ky * s.kW + kx) * s.inC + ci) * s.outC, yBase);
            }
          }
        }
      }
    }
  }
}

/** y[n,oy,ox,co] = Σ x[n, oy·s − pad + ky, ox·s − pad + kx, ci] · w[ky,kx,ci,co]. */
export function conv2dRef(s: Conv2dSpec, x: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
  const { outH, outW } = convShape(s);
  const y = new Float64Array(s.batch * outH * outW * s.outC);
  forEachTap(s, (xi, wb, yb) => {
    for (let co = 0; co < s.outC; co++) y[yb + co] += x[xi] * w[wb + co];
  });
  return y;
}

/** ∂(Σ y·dy)/∂x: the input gradient, which is also the transposed convolution of dy. */
export function conv2dBackpropInputRef(s: Conv2dSpec, dy: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(s.batch * s.inH * s.inW * s.inC);
  forEachTap(s, (xi, wb, yb) => {
    let acc = 0;
    for (let co = 0; co < s.outC; co++) acc += dy[yb + co] * w[wb + co];
    dx[xi] += acc;
  });
  return dx;
}

/** ∂(Σ y·dy)/∂w. */
export function conv2dBackpropFilterRef(s: Conv2dSpec, x: ArrayLike<number>, dy: ArrayLike<number>): Float64Array {
  const dw = new Float64Array(s.kH * s.kW * s.inC * s.outC);
  forEachTap(s, (xi, wb, yb) => {
    for (let co = 0; co < s.outC; co++) dw[wb + co] += x[xi] * dy[yb + co];
  });
  return dw;
}

/** C = op(A)·op(B) for one [m,k]·[k,n] product (op = optional transpose of the stored matrix). */
export function matMulRef(a: ArrayLike<number>, b: ArrayLike<number>, m: number, n: number, k: number, transposeA: boolean, transposeB: boolean): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) {
        const av = transposeA ? a[p * m + i] : a[i * k + p];
        const bv = transposeB ? b[j * k + p] : b[p * n + j];
        acc += av * bv;
      }
      c[i * n + j] = acc;
    }
  }
  return c;
}

/** Row-major index → multi-index, and back with broadcasting (size-1 dims of `shape` read index 0). */
export function broadcastIndex(index: number, outShape: readonly number[], shape: readonly number[]): number {
  let rest = index;
  const coords = new Array<number>(outShape.length);
  for (let i = outShape.length - 1; i >= 0; i--) {
    coords[i] = rest % outShape[i];
    rest = Math.floor(rest / outShape[i]);
  }
  let flat = 0;
  const offset = outShape.length - shape.length;
  for (let i = 0; i < shape.length; i++) flat = flat * shape[i] + (shape[i] === 1 ? 0 : coords[i + offset]);
  return flat;
}

/** Sum (or mean) of x over `axes`, keepDims shape. */
export function reduceRef(x: ArrayLike<number>, shape: readonly number[], axes: readonly number[], mean: boolean): { values: Float64Array; shape: number[] } {
  const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const size = outShape.reduce((a, b) => a * b, 1);
  const values = new Float64Array(size);
  const total = shape.reduce((a, b) => a * b, 1);
  for (let i = 0; i < total; i++) values[broadcastIndex(i, shape, outShape)] += x[i];
  if (mean) {
    const count = total / size;
    for (let i = 0; i < size; i++) values[i] /= count;
  }
  return { values, shape: outShape };
}

/** erf to ~1e-12: Maclaurin series for |x| < 3, else 1 ∓ the asymptotic tail (negligible). */
export function erfRef(x: number): number {
  const ax = Math.abs(x);
  if (ax >= 6) return Math.sign(x);
  let term = ax;
  let sum = ax;
  for (let n = 1; n < 200; n++) {
    term *= (-ax * ax) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17) break;
  }
  return Math.sign(x) * Math.min(1, (2 / Math.sqrt(Math.PI)) * sum);
}

export function geluRef(x: number): number {
  return 0.5 * x * (1 + erfRef(x / Math.SQRT2));
}

/** Pooling ('valid' padding), NHWC. Max pooling's gradient goes to the first maximum of each window. */
export function poolRef(
  kind: 'max' | 'avg',
  x: ArrayLike<number>,
  shape: readonly [number, number, number, number],
  size: number,
  stride: number,
  dy?: ArrayLike<number>,
): { y: Float64Array; dx: Float64Array } {
  const [n, h, w, c] = shape;
  const oh = Math.floor((h - size) / stride) + 1;
  const ow = Math.floor((w - size) / stride) + 1;
  const y = new Float64Array(n * oh * ow * c);
  const dx = new Float64Array(n * h * w * c);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let ch = 0; ch < c; ch++) {
          const yi = ((b * oh + oy) * ow + ox) * c + ch;
          let best = -Infinity;
          let bestAt = -1;
          let sum = 0;
          for (let ky = 0; ky < size; ky++) {
            for (let kx = 0; kx < size; kx++) {
              const xi = ((b * h + oy * stride + ky) * w + ox * stride + kx) * c + ch;
              sum += x[xi];
              if (x[xi] > best) {
                best = x[xi];
                bestAt = xi;
              }
            }
          }
          y[yi] = kind === 'max' ? best : sum / (size * size);
          if (dy) {
            if (kind === 'max') dx[bestAt] += dy[yi];
            else {
              for (let ky = 0; ky < size; ky++) {
                for (let kx = 0; kx < size; kx++) dx[((b * h + oy * stride + ky) * w + ox * stride + kx) * c + ch] += dy[yi] / (size * size);
              }
            }
          }
        }
      }
    }
  }
  return { y, dx };
}

/** Deterministic test data: mulberry32 (Tommy Ettinger's 32-bit generator), uniform in [−scale, scale). */
export function seededValues(length: number, seed: number, scale = 1): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/** max over i of |actual − expected| / (atol + rtol·|expected|); ≤ 1 means within tolerance. */
export function toleranceRatio(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number): number {
  if (actual.length !== expected.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const r = Math.abs(actual[i] - expected[i]) / (atol + rtol * Math.abs(expected[i]));
    if (!(r <= worst)) worst = Number.isNaN(r) ? Infinity : r;
  }
  return worst;
}
