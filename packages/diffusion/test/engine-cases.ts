import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { createModel } from '../src/models/index.ts';
import { Random } from '../src/rng.ts';
import type { Tensor, TensorEngine } from '../src/tensor/engine.ts';
import { DiffusionTrainer } from '../src/train/trainer.ts';
import { maxAbsDiff } from './helpers.ts';

/**
 * One numerical suite for every backend: the engine's ops against plain float64 reference loops,
 * forward values and gradients (of L = Σ y·r for a random r). engine.test.ts runs it on wasm,
 * engine-native.test.ts on 'native'.
 */
let e: TensorEngine;

/**
 * Reference NHWC convolution, filter [k, k, ci, co]: output pixel (oy, ox) reads input
 * (oy·stride + i − pad, ox·stride + j − pad), zero outside. `out` is the output side.
 */
function refConv(x: Float32Array, xs: number[], w: Float32Array, ws: number[], stride: number, pad: number, out: number) {
  const [n, h, wd, ci] = xs;
  const [k, , , co] = ws;
  const oh = out;
  const ow = out;
  const y = new Float64Array(n * oh * ow * co);
  const at = (b: number, yy: number, xx: number, c: number) => ((b * h + yy) * wd + xx) * ci + c;
  const loop = (fn: (b: number, oy: number, ox: number, i: number, j: number, c: number, o: number, xi: number) => void): void => {
    for (let b = 0; b < n; b++)
      for (let oy = 0; oy < oh; oy++)
        for (let ox = 0; ox < ow; ox++)
          for (let i = 0; i < k; i++)
            for (let j = 0; j < k; j++) {
              const yy = oy * stride + i - pad;
              const xx = ox * stride + j - pad;
              if (yy < 0 || yy >= h || xx < 0 || xx >= wd) continue;
              for (let c = 0; c < ci; c++) for (let o = 0; o < co; o++) fn(b, oy, ox, i, j, c, o, at(b, yy, xx, c));
            }
  };
  loop((b, oy, ox, i, j, c, o, xi) => (y[((b * oh + oy) * ow + ox) * co + o] += x[xi] * w[((i * k + j) * ci + c) * co + o]));
  /** Gradients of L = Σ y·r. */
  const grads = (r: Float32Array) => {
    const dx = new Float64Array(x.length);
    const dw = new Float64Array(w.length);
    loop((b, oy, ox, i, j, c, o, xi) => {
      const g = r[((b * oh + oy) * ow + ox) * co + o];
      dx[xi] += g * w[((i * k + j) * ci + c) * co + o];
      dw[((i * k + j) * ci + c) * co + o] += g * x[xi];
    });
    return { dx, dw };
  };
  return { y, shape: [n, oh, ow, co], grads };
}

/** y = fn(inputs) and the gradients of Σ y·r with respect to each input. */
function valueAndInputGrads(fn: (...xs: Tensor[]) => Tensor, inputs: Array<{ values: Float32Array; shape: number[] }>, r: Float32Array) {
  const vars = inputs.map((input, i) => {
    const t = e.tensor(input.values, input.shape);
    const v = e.variable(t, `input${i}`, true);
    t.dispose();
    return v;
  });
  const { value, grads } = e.valueAndGrads(
    () =>
      e.tidy(() => {
        const y = fn(...vars);
        return e.sum(e.mul(y, e.tensor(r, y.shape)));
      }),
    vars,
  );
  const y = e.tidy(() => fn(...vars));
  const out = { y: e.readSync(y).slice(), grads: grads.map((g) => e.readSync(g).slice()) };
  for (const t of [value, ...grads, y, ...vars]) t.dispose();
  return out;
}

/** erf by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7), enough for a 1e-5 reference. */
function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return s * (1 - poly * Math.exp(-a * a));
}

/** Per-channel batch statistics of NHWC data (all axes but the last), biased variance, float64. */
function channelStats(x: Float32Array, channels: number) {
  const count = x.length / channels;
  const mean = new Float64Array(channels);
  const variance = new Float64Array(channels);
  for (let i = 0; i < x.length; i++) mean[i % channels] += x[i] / count;
  for (let i = 0; i < x.length; i++) variance[i % channels] += (x[i] - mean[i % channels]) ** 2 / count;
  return { mean, variance, count };
}

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

export function describeEngineCases(label: string, init: () => Promise<TensorEngine>, skip: string | false = false): void {
  describe(`tensor engine vs reference implementations (${label})`, { skip }, () => {
    before(async () => {
      e = await init();
    });

    for (const [k, stride, padding, withBias] of [
      [3, 1, 'same', false],
      [1, 1, 'valid', false],
      [3, 2, 'same', false],
      [3, 1, 'same', true],
      [1, 1, 'valid', true],
      [3, 2, 'same', true],
    ] as const) {
      test(`conv2d k=${k} stride=${stride} ${padding}${withBias ? ' + bias' : ''}: values and gradients`, () => {
        const random = new Random(k * 10 + stride + (withBias ? 100 : 0));
        const xs = [2, 6, 6, 3];
        const ws = [k, k, 3, 4];
        const x = random.normalArray(size(xs));
        const w = random.normalArray(size(ws));
        const bias = random.normalArray(4);
        // TensorFlow's 'same': output side ⌈in/stride⌉, total padding max((out−1)·s + k − in, 0), the
        // smaller half before (so stride 2 on a side of 6 with k = 3 pads 0 before and 1 after).
        const out = padding === 'same' ? Math.ceil(6 / stride) : Math.floor((6 - k) / stride) + 1;
        const pad = padding === 'same' ? Math.floor(Math.max((out - 1) * stride + k - 6, 0) / 2) : 0;
        const ref = refConv(x, xs, w, ws, stride, pad, out);
        if (withBias) for (let i = 0; i < ref.y.length; i++) ref.y[i] += bias[i % 4];
        const r = random.normalArray(ref.y.length);
        const inputs = [
          { values: x, shape: xs },
          { values: w, shape: ws },
          ...(withBias ? [{ values: bias, shape: [4] }] : []),
        ];
        const got = valueAndInputGrads((a, b, c) => e.conv2d(a, b, stride, padding, c), inputs, r);
        const { dx, dw } = ref.grads(r);
        assert.ok(maxAbsDiff(got.y, ref.y) < 1e-4, `forward ${maxAbsDiff(got.y, ref.y)}`);
        assert.ok(maxAbsDiff(got.grads[0], dx) < 1e-4, `dx ${maxAbsDiff(got.grads[0], dx)}`);
        assert.ok(maxAbsDiff(got.grads[1], dw) < 1e-4, `dw ${maxAbsDiff(got.grads[1], dw)}`);
        if (withBias) {
          const db = new Float64Array(4);
          for (let i = 0; i < r.length; i++) db[i % 4] += r[i];
          assert.ok(maxAbsDiff(got.grads[2], db) < 1e-4, `dbias ${maxAbsDiff(got.grads[2], db)}`);
        }
      });
    }

    test('conv2dTranspose with kernel = stride: values and gradients', () => {
      const random = new Random(77);
      const [n, h, w, ci, co, k] = [2, 3, 3, 4, 5, 2];
      const x = random.normalArray(n * h * w * ci);
      const f = random.normalArray(k * k * co * ci);
      const y = new Float64Array(n * h * k * w * k * co);
      const yi = (b: number, yy: number, xx: number, o: number) => ((b * h * k + yy) * w * k + xx) * co + o;
      const fi = (i: number, j: number, o: number, c: number) => ((i * k + j) * co + o) * ci + c;
      for (let b = 0; b < n; b++) for (let a = 0; a < h; a++) for (let d = 0; d < w; d++) for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) for (let o = 0; o < co; o++) for (let c = 0; c < ci; c++) y[yi(b, a * k + i, d * k + j, o)] += x[((b * h + a) * w + d) * ci + c] * f[fi(i, j, o, c)];
      const r = random.normalArray(y.length);
      const dx = new Float64Array(x.length);
      const df = new Float64Array(f.length);
      for (let b = 0; b < n; b++) for (let a = 0; a < h; a++) for (let d = 0; d < w; d++) for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) for (let o = 0; o < co; o++) for (let c = 0; c < ci; c++) {
        const g = r[yi(b, a * k + i, d * k + j, o)];
        dx[((b * h + a) * w + d) * ci + c] += g * f[fi(i, j, o, c)];
        df[fi(i, j, o, c)] += g * x[((b * h + a) * w + d) * ci + c];
      }
      const got = valueAndInputGrads((a, b) => e.conv2dTranspose(a, b, [n, h * k, w * k, co], k, 'valid'), [
        { values: x, shape: [n, h, w, ci] },
        { values: f, shape: [k, k, co, ci] },
      ], r);
      assert.ok(maxAbsDiff(got.y, y) < 1e-4);
      assert.ok(maxAbsDiff(got.grads[0], dx) < 1e-4);
      assert.ok(maxAbsDiff(got.grads[1], df) < 1e-4);
    });

    test('groupNorm normalises each (sample, group) and applies γ, β', () => {
      const random = new Random(3);
      const [n, h, w, c, g] = [2, 3, 3, 8, 4];
      const x = random.normalArray(n * h * w * c).map((v, i) => v * (1 + (i % c)) + (i % 3));
      const gamma = random.normalArray(c);
      const beta = random.normalArray(c);
      const out = e.tidy(() => e.groupNorm(e.tensor(x, [n, h, w, c]), g, e.tensor(gamma, [c]), e.tensor(beta, [c]), 1e-5));
      const got = e.readSync(out);
      out.dispose();
      const per = c / g;
      for (let b = 0; b < n; b++) {
        for (let grp = 0; grp < g; grp++) {
          const idx: number[] = [];
          for (let p = 0; p < h * w; p++) for (let q = 0; q < per; q++) idx.push((b * h * w + p) * c + grp * per + q);
          const mean = idx.reduce((s, i) => s + x[i], 0) / idx.length;
          const variance = idx.reduce((s, i) => s + (x[i] - mean) ** 2, 0) / idx.length;
          for (const i of idx) {
            const ch = i % c;
            const expected = ((x[i] - mean) / Math.sqrt(variance + 1e-5)) * gamma[ch] + beta[ch];
            assert.ok(Math.abs(got[i] - expected) < 1e-4);
          }
        }
      }
    });

    test('layerNorm over the last axis: values and gradients in x, γ, β', () => {
      const random = new Random(21);
      const [rows, c] = [6, 10];
      const x = random.normalArray(rows * c).map((v, i) => v * (1 + (i % 4)) + (i % 3));
      const gamma = random.normalArray(c);
      const beta = random.normalArray(c);
      const r = random.normalArray(rows * c);
      const got = valueAndInputGrads((a, g, b) => e.layerNorm(a, g, b, 1e-5), [
        { values: x, shape: [2, 3, c] },
        { values: gamma, shape: [c] },
        { values: beta, shape: [c] },
      ], r);
      const y = new Float64Array(rows * c);
      const dx = new Float64Array(rows * c);
      const dGamma = new Float64Array(c);
      const dBeta = new Float64Array(c);
      for (let row = 0; row < rows; row++) {
        const at = (k: number) => row * c + k;
        let mean = 0;
        for (let k = 0; k < c; k++) mean += x[at(k)] / c;
        let variance = 0;
        for (let k = 0; k < c; k++) variance += (x[at(k)] - mean) ** 2 / c;
        const inv = 1 / Math.sqrt(variance + 1e-5);
        const xhat = Array.from({ length: c }, (_, k) => (x[at(k)] - mean) * inv);
        const g = Array.from({ length: c }, (_, k) => r[at(k)] * gamma[k]);
        const gMean = g.reduce((s, v) => s + v, 0) / c;
        const gxMean = g.reduce((s, v, k) => s + v * xhat[k], 0) / c;
        for (let k = 0; k < c; k++) {
          y[at(k)] = xhat[k] * gamma[k] + beta[k];
          // dL/dx = (g − mean(g) − x̂·mean(g·x̂))/σ for g = r·γ (the LayerNorm backward).
          dx[at(k)] = (g[k] - gMean - xhat[k] * gxMean) * inv;
          dGamma[k] += r[at(k)] * xhat[k];
          dBeta[k] += r[at(k)];
        }
      }
      assert.ok(maxAbsDiff(got.y, y) < 1e-4, `forward ${maxAbsDiff(got.y, y)}`);
      assert.ok(maxAbsDiff(got.grads[0], dx) < 1e-4, `dx ${maxAbsDiff(got.grads[0], dx)}`);
      assert.ok(maxAbsDiff(got.grads[1], dGamma) < 1e-4);
      assert.ok(maxAbsDiff(got.grads[2], dBeta) < 1e-4);
    });

    test('softmax over the last axis: values and gradients, also with −3.4e38 masked entries', () => {
      const random = new Random(23);
      const [rows, c] = [6, 7];
      const x = random.normalArray(rows * c).map((v, i) => (i % 5 === 4 ? -3.4028234663852886e38 : 4 * v));
      const r = random.normalArray(rows * c);
      const got = valueAndInputGrads((a) => e.softmax(a), [{ values: x, shape: [2, 3, c] }], r);
      const y = new Float64Array(rows * c);
      const dx = new Float64Array(rows * c);
      for (let row = 0; row < rows; row++) {
        const at = (k: number) => row * c + k;
        let max = -Infinity;
        for (let k = 0; k < c; k++) max = Math.max(max, x[at(k)]);
        let sum = 0;
        for (let k = 0; k < c; k++) sum += Math.exp(x[at(k)] - max);
        for (let k = 0; k < c; k++) y[at(k)] = Math.exp(x[at(k)] - max) / sum;
        let dot = 0;
        for (let k = 0; k < c; k++) dot += r[at(k)] * y[at(k)];
        for (let k = 0; k < c; k++) dx[at(k)] = y[at(k)] * (r[at(k)] - dot);
      }
      assert.ok(maxAbsDiff(got.y, y) < 1e-6, `forward ${maxAbsDiff(got.y, y)}`);
      assert.ok(maxAbsDiff(got.grads[0], dx) < 1e-5, `dx ${maxAbsDiff(got.grads[0], dx)}`);
    });

    test('slice, gather, pad2d and resizeNearest: values and gradients', () => {
      const random = new Random(22);
      const x = random.normalArray(2 * 3 * 4);
      const r = random.normalArray(2 * 2 * 2);
      const sliced = valueAndInputGrads((a) => e.slice(a, [0, 1, 2], [-1, 2, 2]), [{ values: x, shape: [2, 3, 4] }], r);
      const expected: number[] = [];
      const dx = new Float64Array(x.length);
      for (let b = 0; b < 2; b++) for (let i = 1; i < 3; i++) for (let j = 2; j < 4; j++) {
        dx[(b * 3 + i) * 4 + j] = r[expected.length];
        expected.push(x[(b * 3 + i) * 4 + j]);
      }
      assert.deepEqual(Array.from(sliced.y), expected);
      assert.ok(maxAbsDiff(sliced.grads[0], dx) < 1e-6);

      const table = random.normalArray(5 * 3);
      const rows = Int32Array.of(4, 0, 4, 2);
      const rg = random.normalArray(4 * 3);
      const gathered = valueAndInputGrads((t) => e.gather(t, rows), [{ values: table, shape: [5, 3] }], rg);
      const dTable = new Float64Array(table.length);
      rows.forEach((row, i) => {
        for (let k = 0; k < 3; k++) {
          assert.equal(gathered.y[i * 3 + k], table[row * 3 + k]);
          dTable[row * 3 + k] += rg[i * 3 + k];
        }
      });
      assert.ok(maxAbsDiff(gathered.grads[0], dTable) < 1e-6, 'embedding rows accumulate their gradients');

      const img = random.normalArray(1 * 3 * 2 * 2);
      const padded = e.tidy(() => e.pad2d(e.tensor(img, [1, 3, 2, 2]), 1, 0, 0, 2));
      assert.deepEqual(padded.shape, [1, 4, 4, 2]);
      const p = e.readSync(padded);
      padded.dispose();
      for (let y = 0; y < 4; y++) for (let xx = 0; xx < 4; xx++) for (let c = 0; c < 2; c++) {
        const inside = y >= 1 && xx < 2;
        assert.equal(p[(y * 4 + xx) * 2 + c], inside ? img[((y - 1) * 2 + xx) * 2 + c] : 0);
      }

      const small = random.normalArray(1 * 3 * 5 * 1);
      const resized = e.tidy(() => e.resizeNearest(e.tensor(small, [1, 3, 5, 1]), 5, 9));
      const q = e.readSync(resized);
      resized.dispose();
      // PyTorch 'nearest': src = ⌊dst · in/out⌋.
      for (let y = 0; y < 5; y++) for (let xx = 0; xx < 9; xx++) {
        assert.equal(q[y * 9 + xx], small[Math.floor((y * 3) / 5) * 5 + Math.floor((xx * 5) / 9)]);
      }
    });

    test("resizeNearest's gradient at non-integer scales agrees with finite differences (tfjs's own resize gradient was wrong)", () => {
      const random = new Random(23);
      // Up (non-integer), down (some inputs copied nowhere: zero gradient) and mixed, NHWC.
      const cases: Array<{ shape: number[]; out: [number, number] }> = [
        { shape: [2, 3, 5, 2], out: [5, 7] },
        { shape: [1, 5, 4, 3], out: [3, 3] },
        { shape: [1, 4, 3, 2], out: [6, 2] },
      ];
      for (const { shape, out } of cases) {
        const [n, h, w, c] = shape;
        const x = random.normalArray(n * h * w * c);
        const r = random.normalArray(n * out[0] * out[1] * c);
        const before = e.numTensors();
        const got = valueAndInputGrads((a) => e.resizeNearest(a, out[0], out[1]), [{ values: x, shape }], r);
        assert.equal(e.numTensors(), before, 'no tensors left behind by the gradient');
        // L(x) = Σ resize(x)·r, in float64 from the engine's forward; central differences per input.
        const loss = (values: Float32Array): number => {
          const y = e.tidy(() => e.resizeNearest(e.tensor(values, shape), out[0], out[1]));
          const v = e.readSync(y);
          y.dispose();
          let sum = 0;
          for (let i = 0; i < v.length; i++) sum += v[i] * r[i];
          return sum;
        };
        const delta = 0.25;
        const numeric = new Float64Array(x.length);
        for (let k = 0; k < x.length; k++) {
          const plus = x.slice();
          const minus = x.slice();
          plus[k] += delta;
          minus[k] -= delta;
          numeric[k] = (loss(plus) - loss(minus)) / (2 * delta);
        }
        const where = `${shape.join('×')} → ${out.join('×')}`;
        assert.ok(maxAbsDiff(got.grads[0], numeric) < 1e-4, `${where}: analytic vs finite differences ${maxAbsDiff(got.grads[0], numeric)}`);
        // The adjoint by counting: each output pixel sends its r to its source ⌊dst · in/out⌋.
        const adjoint = new Float64Array(x.length);
        for (let b = 0; b < n; b++) for (let i = 0; i < out[0]; i++) for (let j = 0; j < out[1]; j++) for (let k = 0; k < c; k++) {
          adjoint[((b * h + Math.floor((i * h) / out[0])) * w + Math.floor((j * w) / out[1])) * c + k] += r[((b * out[0] + i) * out[1] + j) * c + k];
        }
        assert.ok(maxAbsDiff(got.grads[0], adjoint) < 1e-5, `${where}: analytic vs the counted adjoint`);
        if (out[0] < h) assert.ok(adjoint.some((v) => v === 0), `${where}: a downscale leaves rows with no gradient`);
      }
    });

    test('gelu is the exact (erf) GELU and silu is x·σ(x)', () => {
      const x = Float32Array.of(-2, -1, 0, 1, 2);
      const g = e.tidy(() => e.gelu(e.tensor(x, [5])));
      const s = e.tidy(() => e.silu(e.tensor(x, [5])));
      assert.ok(maxAbsDiff(e.readSync(g), [-0.0455003, -0.1586553, 0, 0.8413447, 1.9544997]) < 1e-5);
      assert.ok(maxAbsDiff(e.readSync(s), Array.from(x, (v) => v / (1 + Math.exp(-v)))) < 1e-6);
      g.dispose();
      s.dispose();
    });

    test('gelu values and gradient, Φ(x) + x·φ(x), on a wide range', () => {
      const random = new Random(11);
      const x = random.normalArray(4 * 5 * 5 * 8).map((v) => 3 * v);
      const r = random.normalArray(x.length);
      const got = valueAndInputGrads((a) => e.gelu(a), [{ values: x, shape: [4, 5, 5, 8] }], r);
      const y = Array.from(x, (v) => 0.5 * v * (1 + erf(v * Math.SQRT1_2)));
      const dx = Array.from(x, (v, i) => r[i] * (0.5 * (1 + erf(v * Math.SQRT1_2)) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI)));
      assert.ok(maxAbsDiff(got.y, y) < 1e-5, `forward ${maxAbsDiff(got.y, y)}`);
      assert.ok(maxAbsDiff(got.grads[0], dx) < 1e-5, `dx ${maxAbsDiff(got.grads[0], dx)}`);
    });

    test('batchNorm (given statistics): values and gradients in x, γ, β', () => {
      const random = new Random(21);
      const shape = [3, 4, 4, 6];
      const c = 6;
      const x = random.normalArray(size(shape)).map((v, i) => v * (1 + (i % c)) + (i % 4));
      const mean = random.normalArray(c);
      const variance = random.normalArray(c).map((v) => 0.5 + v * v);
      const gamma = random.normalArray(c);
      const beta = random.normalArray(c);
      const r = random.normalArray(x.length);
      const m = e.tensor(mean, [c]);
      const v = e.tensor(variance, [c]);
      const got = valueAndInputGrads((a, g, b) => e.batchNorm(a, m, v, g, b, 1e-5), [
        { values: x, shape },
        { values: gamma, shape: [c] },
        { values: beta, shape: [c] },
      ], r);
      m.dispose();
      v.dispose();
      const y = new Float64Array(x.length);
      const dx = new Float64Array(x.length);
      const dGamma = new Float64Array(c);
      const dBeta = new Float64Array(c);
      for (let i = 0; i < x.length; i++) {
        const ch = i % c;
        const inv = 1 / Math.sqrt(variance[ch] + 1e-5);
        const normalised = (x[i] - mean[ch]) * inv;
        y[i] = normalised * gamma[ch] + beta[ch];
        dx[i] = r[i] * gamma[ch] * inv;
        dGamma[ch] += r[i] * normalised;
        dBeta[ch] += r[i];
      }
      assert.ok(maxAbsDiff(got.y, y) < 1e-4, `forward ${maxAbsDiff(got.y, y)}`);
      assert.ok(maxAbsDiff(got.grads[0], dx) < 1e-4, `dx ${maxAbsDiff(got.grads[0], dx)}`);
      assert.ok(maxAbsDiff(got.grads[1], dGamma) < 1e-3, `dγ ${maxAbsDiff(got.grads[1], dGamma)}`);
      assert.ok(maxAbsDiff(got.grads[2], dBeta) < 1e-3, `dβ ${maxAbsDiff(got.grads[2], dBeta)}`);
    });

    test('batchNormTraining: batch statistics, values and gradients (through μ and σ²) in x, γ, β', () => {
      const random = new Random(31);
      const shape = [4, 3, 3, 5];
      const c = 5;
      const x = random.normalArray(size(shape)).map((v, i) => v * (1 + (i % c)) - (i % 3));
      const gamma = random.normalArray(c);
      const beta = random.normalArray(c);
      const r = random.normalArray(x.length);
      const got = valueAndInputGrads((a, g, b) => e.batchNormTraining(a, g, b, 1e-5).y, [
        { values: x, shape },
        { values: gamma, shape: [c] },
        { values: beta, shape: [c] },
      ], r);
      const { mean, variance, count } = channelStats(x, c);
      // y = x̂·γ + β with x̂ = (x − μ)/√(σ² + ε); dL/dx = γ/√(σ² + ε)·(r − mean(r) − x̂·mean(r·x̂)) per channel.
      const normalised = Array.from(x, (v, i) => (v - mean[i % c]) / Math.sqrt(variance[i % c] + 1e-5));
      const meanR = new Float64Array(c);
      const meanRX = new Float64Array(c);
      const dGamma = new Float64Array(c);
      const dBeta = new Float64Array(c);
      for (let i = 0; i < x.length; i++) {
        meanR[i % c] += r[i] / count;
        meanRX[i % c] += (r[i] * normalised[i]) / count;
        dGamma[i % c] += r[i] * normalised[i];
        dBeta[i % c] += r[i];
      }
      const y = normalised.map((v, i) => v * gamma[i % c] + beta[i % c]);
      const dx = normalised.map((v, i) => (gamma[i % c] / Math.sqrt(variance[i % c] + 1e-5)) * (r[i] - meanR[i % c] - v * meanRX[i % c]));
      assert.ok(maxAbsDiff(got.y, y) < 1e-4, `forward ${maxAbsDiff(got.y, y)}`);
      assert.ok(maxAbsDiff(got.grads[0], dx) < 1e-4, `dx ${maxAbsDiff(got.grads[0], dx)}`);
      assert.ok(maxAbsDiff(got.grads[1], dGamma) < 1e-3, `dγ ${maxAbsDiff(got.grads[1], dGamma)}`);
      assert.ok(maxAbsDiff(got.grads[2], dBeta) < 1e-3, `dβ ${maxAbsDiff(got.grads[2], dBeta)}`);
      // The statistics it returns are the batch mean and the biased variance.
      const xt = e.tensor(x, shape);
      const g = e.tensor(gamma, [c]);
      const b = e.tensor(beta, [c]);
      const stats = e.batchNormTraining(xt, g, b, 1e-5);
      assert.ok(maxAbsDiff(e.readSync(stats.mean), mean) < 1e-5);
      assert.ok(maxAbsDiff(e.readSync(stats.variance), variance) < 1e-4);
      for (const t of [xt, g, b, stats.y, stats.mean, stats.variance]) t.dispose();
    });

    test('gradient steps through conv + bias, batchNormTraining and gelu leak no tensors', () => {
      const random = new Random(41);
      const init = (shape: number[]) => {
        const t = e.tensor(random.normalArray(size(shape)), shape);
        const v = e.variable(t, 'leak', true);
        t.dispose();
        return v;
      };
      const w = init([3, 3, 2, 4]);
      const bias = init([4]);
      const gamma = init([4]);
      const beta = init([4]);
      const x = e.tensor(random.normalArray(2 * 5 * 5 * 2), [2, 5, 5, 2]);
      const step = (): void => {
        const { value, grads } = e.valueAndGrads(
          () => e.tidy(() => e.mean(e.square(e.gelu(e.batchNormTraining(e.conv2d(x, w, 1, 'same', bias), gamma, beta, 1e-5).y)))),
          [w, bias, gamma, beta],
        );
        e.tidy(() => {
          for (const [i, v] of [w, bias, gamma, beta].entries()) v.assign(e.sub(v, e.mulScalar(grads[i], 0.01)));
        });
        for (const t of [value, ...grads]) t.dispose();
      };
      step();
      const baseline = e.numTensors();
      for (let i = 0; i < 3; i++) step();
      assert.equal(e.numTensors(), baseline);
      for (const t of [w, bias, gamma, beta, x]) t.dispose();
    });

    // The optimiser's arithmetic: every operation rounds to float32 (IEEE +, ×, ÷ and √ are correctly
    // rounded, so a float64 operation followed by Math.fround is the float32 one), in the order the
    // TensorEngine contract states: the reference is exact, and so must the engine be, fused or not.
    for (const [n, gradScale] of [
      [37, 1],
      [1000, 0.37],
      [70_000, 1],
    ] as const) {
      test(`adamUpdate on ${n} values${gradScale === 1 ? '' : ', clipped gradient'}: bit for bit the float32 formula`, () => {
        const random = new Random(n);
        const f = Math.fround;
        const param = random.normalArray(n);
        const m = random.normalArray(n).map((v) => v * 0.1);
        const v = random.normalArray(n).map((x) => x * x * 0.01);
        const grad = random.normalArray(n);
        const s = { gradScale, beta1: 0.9, oneMinusBeta1: 1 - 0.9, beta2: 0.999, oneMinusBeta2: 1 - 0.999, stepSize: 1e-3 / (1 - 0.9 ** 7), inverseCorrection2: 1 / (1 - 0.999 ** 7), epsilon: 1e-8 };
        const [p1, m1, v1] = [param, m, v, grad].map((a) => e.tensor(a, [n]));
        const g1 = e.tensor(grad, [n]);
        const before = e.numTensors();
        const out = e.adamUpdate(p1, m1, v1, g1, s);
        assert.equal(e.numTensors(), before + 3);
        const [gotParam, gotM, gotV] = out.map((t) => e.readSync(t).slice());
        for (let i = 0; i < n; i++) {
          const g = gradScale === 1 ? grad[i] : f(grad[i] * f(s.gradScale));
          const mi = f(f(m[i] * f(s.beta1)) + f(g * f(s.oneMinusBeta1)));
          const vi = f(f(v[i] * f(s.beta2)) + f(f(g * g) * f(s.oneMinusBeta2)));
          const update = f(f(mi * f(s.stepSize)) / f(f(Math.sqrt(f(vi * f(s.inverseCorrection2)))) + f(s.epsilon)));
          const pi = f(param[i] - update);
          if (gotM[i] !== mi || gotV[i] !== vi || gotParam[i] !== pi) assert.fail(`element ${i}: got θ ${gotParam[i]} m ${gotM[i]} v ${gotV[i]}, want ${pi} ${mi} ${vi}`);
        }
        for (const t of [...out, p1, m1, v1, g1]) t.dispose();
      });
    }

    test('emaUpdate: target·d + source·(1 − d) bit for bit; sumOfSquares: Σ x² over several tensors', () => {
      const random = new Random(5);
      const f = Math.fround;
      const n = 5000;
      const target = random.normalArray(n);
      const source = random.normalArray(n);
      const [a, b] = [target, source].map((x) => e.tensor(x, [n]));
      const ema = e.emaUpdate(a, b, 0.999);
      const got = e.readSync(ema);
      for (let i = 0; i < n; i++) {
        const want = f(f(target[i] * f(0.999)) + f(source[i] * f(1 - 0.999)));
        if (got[i] !== want) assert.fail(`element ${i}: ${got[i]} ≠ ${want}`);
      }
      const parts = [random.normalArray(6), random.normalArray(300), random.normalArray(4096)];
      const tensors = parts.map((x) => e.tensor(x, [x.length]));
      const sum = e.sumOfSquares(tensors);
      assert.deepEqual(sum.shape, []);
      let want = 0;
      for (const x of parts) for (const v of x) want += v * v;
      const gotSum = e.readSync(sum)[0];
      // wasm sums in float32 (1.4·10⁻⁶ off here), native in float64.
      assert.ok(Math.abs(gotSum - want) <= 1e-5 * want, `Σ x² ${gotSum} vs ${want}`);
      for (const t of [ema, a, b, sum, ...tensors]) t.dispose();
    });

    test('ContextUnet training steps leak no tensors', () => {
      const config = { kind: 'context-unet' as const, inChannels: 1, nFeat: 8, nCfeat: 2, height: 8, numTrainTimesteps: 50 };
      const model = createModel(e, config, 0);
      const trainer = new DiffusionTrainer(e, model, { numTrainTimesteps: 50, betaSchedule: 'linear', betaStart: 1e-4, betaEnd: 0.02 }, { batchSize: 4 }, 2);
      const x0 = new Random(2).normalArray(4 * 64).map((v) => Math.tanh(v));
      const labels = Int32Array.of(0, 1, 0, 1);
      const first = trainer.trainStep(x0, labels, 4, 100);
      const baseline = e.numTensors();
      for (let i = 0; i < 3; i++) trainer.trainStep(x0, labels, 4, 100);
      assert.equal(e.numTensors(), baseline, 'tensors leaked');
      assert.ok(Number.isFinite(first.loss));
      trainer.dispose();
      model.params.dispose();
    });
  });
}
