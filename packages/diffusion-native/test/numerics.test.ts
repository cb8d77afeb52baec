/**
 * One numerical suite for every backend (cpu, wasm, native with each convolution route): forward
 * values and gradients of each hot kernel and of a small conv net, compared with the float64
 * reference loops in reference.ts.
 */
import { before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { batchNormTraining, gelu, groupNorm, layerNorm, silu } from '../src/index.ts';
import { BACKEND_CASES, prepareBackend, requireNative, type BackendCase } from './backends.ts';
import {
  broadcastIndex,
  type Conv2dSpec,
  conv2dBackpropFilterRef,
  conv2dBackpropInputRef,
  conv2dRef,
  convShape,
  erfRef,
  geluRef,
  matMulRef,
  poolRef,
  reduceRef,
  seededValues,
  toleranceRatio,
} from './reference.ts';

const WASM_STRIDED_FILTER_GRADIENT = 'wasm has no Conv2DBackpropFilter; the Conv3DBackpropFilterV2 stand-in gives wrong filter gradients for stride 2';
const WASM_MAX_POOL_GRADIENT = 'tfjs-backend-wasm 4.22 MaxPoolGrad disagrees with the reference (and with the cpu backend) on some inputs';
const ATOL = 2e-5;
const RTOL = 2e-3;

function close(actual: tf.Tensor | ArrayLike<number>, expected: ArrayLike<number>, what: string, atol = ATOL, rtol = RTOL): void {
  const values = actual instanceof tf.Tensor ? actual.dataSync() : actual;
  const ratio = toleranceRatio(values, expected, atol, rtol);
  assert.ok(ratio <= 1, `${what}: off by ${ratio.toFixed(2)}× the tolerance (atol ${atol}, rtol ${rtol})`);
}

function tensor(shape: number[], seed: number, scale = 1): tf.Tensor {
  return tf.tensor(seededValues(shape.reduce((a, b) => a * b, 1), seed, scale), shape, 'float32');
}

const CONV_SPECS: Array<Conv2dSpec & { name: string }> = [
  { name: "3×3 'same' stride 1", batch: 2, inH: 5, inW: 5, inC: 3, kH: 3, kW: 3, outC: 4, stride: 1, padding: 'same' },
  { name: "3×3 'same' stride 2", batch: 2, inH: 6, inW: 7, inC: 3, kH: 3, kW: 3, outC: 4, stride: 2, padding: 'same' },
  { name: "3×3 'valid' stride 1", batch: 2, inH: 5, inW: 6, inC: 2, kH: 3, kW: 3, outC: 3, stride: 1, padding: 'valid' },
  { name: "2×2 'valid' stride 2", batch: 1, inH: 7, inW: 6, inC: 2, kH: 2, kW: 2, outC: 5, stride: 2, padding: 'valid' },
  { name: "1×1 'valid' stride 1", batch: 2, inH: 4, inW: 4, inC: 5, kH: 1, kW: 1, outC: 3, stride: 1, padding: 'valid' },
];

/** The small conv net, in float64 loops: conv3×3 → batch norm (batch statistics) → GELU → max pool →
 * conv1×1 → transposed conv (k2 s2) → MSE against a target. Used for finite-difference gradients. */
interface NetParams {
  w1: Float64Array; b1: Float64Array; gamma: Float64Array; beta: Float64Array;
  w2: Float64Array; b2: Float64Array; wt: Float64Array; bt: Float64Array;
}
const NET_SHAPES: Record<keyof NetParams, number[]> = {
  w1: [3, 3, 2, 4], b1: [4], gamma: [4], beta: [4], w2: [1, 1, 4, 3], b2: [3], wt: [2, 2, 2, 3], bt: [2],
};
const NET_X: [number, number, number, number] = [2, 6, 6, 2];
const conv1: Conv2dSpec = { batch: 2, inH: 6, inW: 6, inC: 2, kH: 3, kW: 3, outC: 4, stride: 1, padding: 'same' };
const conv2: Conv2dSpec = { batch: 2, inH: 3, inW: 3, inC: 4, kH: 1, kW: 1, outC: 3, stride: 1, padding: 'valid' };
// The transposed convolution is the input gradient of this convolution ([2,6,6,2] → [2,3,3,3]).
const convT: Conv2dSpec = { batch: 2, inH: 6, inW: 6, inC: 2, kH: 2, kW: 2, outC: 3, stride: 2, padding: 'valid' };

function netLossRef(p: NetParams, x: ArrayLike<number>, target: ArrayLike<number>): number {
  const addBias = (y: Float64Array, b: Float64Array): Float64Array => y.map((v, i) => v + b[i % b.length]);
  const h = addBias(conv2dRef(conv1, x, p.w1), p.b1);
  const channels = 4;
  const count = h.length / channels;
  const mean = new Float64Array(channels);
  const variance = new Float64Array(channels);
  h.forEach((v, i) => (mean[i % channels] += v / count));
  h.forEach((v, i) => (variance[i % channels] += (v - mean[i % channels]) ** 2 / count));
  const normed = h.map((v, i) => {
    const c = i % channels;
    return geluRef(((v - mean[c]) / Math.sqrt(variance[c] + 1e-5)) * p.gamma[c] + p.beta[c]);
  });
  const pooled = poolRef('max', normed, [2, 6, 6, 4], 2, 2).y;
  const z = addBias(conv2dRef(conv2, pooled, p.w2), p.b2);
  const y = addBias(conv2dBackpropInputRef(convT, z, p.wt), p.bt);
  let loss = 0;
  y.forEach((v, i) => (loss += (v - target[i]) ** 2));
  return loss / y.length;
}

function netLossTf(v: Record<keyof NetParams, tf.Tensor>, x: tf.Tensor4D, target: tf.Tensor): tf.Scalar {
  const h = tf.add(tf.conv2d(x, v.w1 as tf.Tensor4D, 1, 'same'), v.b1) as tf.Tensor4D;
  const { mean, variance } = tf.moments(h, [0, 1, 2]);
  const normed = gelu(tf, tf.batchNorm(h, mean, variance, v.beta as tf.Tensor1D, v.gamma as tf.Tensor1D, 1e-5)) as tf.Tensor4D;
  const pooled = tf.maxPool(normed, 2, 2, 'valid');
  const z = tf.add(tf.conv2d(pooled, v.w2 as tf.Tensor4D, 1, 'valid'), v.b2) as tf.Tensor4D;
  const y = tf.add(tf.conv2dTranspose(z, v.wt as tf.Tensor4D, [2, 6, 6, 2], 2, 'valid'), v.bt);
  return tf.mean(tf.squaredDifference(y, target));
}

function suite(c: BackendCase): void {
  describe(`backend ${c.label}`, () => {
    let unavailable: string | null = null;
    before(async () => {
      unavailable = await prepareBackend(c);
    });
    /**
     * Runs `body` on the backend, or skips (fails, when native is required) if it is unavailable.
     * `wasmDefect` names a known tfjs-backend-wasm 4.22 defect this case exposes: on wasm the case
     * still runs but is reported as TODO instead of failing the suite.
     */
    const check = (name: string, body: () => void, wasmDefect?: string): void => {
      test(name, { todo: c.backend === 'wasm' && wasmDefect ? wasmDefect : false }, (t: TestContext) => {
        if (unavailable !== null) {
          if (c.backend === 'native' && requireNative) assert.fail(`FLASHDIFF_REQUIRE_NATIVE=1 but the native backend is unavailable: ${unavailable}`);
          t.skip(unavailable);
          return;
        }
        assert.equal(tf.getBackend(), c.backend);
        tf.tidy(body);
      });
    };

    for (const s of CONV_SPECS) {
      check(`conv2d ${s.name}: forward, input gradient, filter gradient`, () => {
        const { outH, outW } = convShape(s);
        const x = tensor([s.batch, s.inH, s.inW, s.inC], 1);
        const w = tensor([s.kH, s.kW, s.inC, s.outC], 2, 0.5);
        const g = tensor([s.batch, outH, outW, s.outC], 3);
        const conv = (a: tf.Tensor, b: tf.Tensor): tf.Tensor4D => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s.stride, s.padding);
        close(conv(x, w), conv2dRef(s, x.dataSync(), w.dataSync()), 'forward');
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a, b), g)))([x, w]);
        close(dx, conv2dBackpropInputRef(s, g.dataSync(), w.dataSync()), 'input gradient');
        close(dw, conv2dBackpropFilterRef(s, x.dataSync(), g.dataSync()), 'filter gradient');
      }, s.stride > 1 ? WASM_STRIDED_FILTER_GRADIENT : undefined);
    }

    check('transpose of ranks 1–6 with every kind of permutation: forward and gradient', () => {
      const cases: Array<[number[], number[]]> = [
        [[7], [0]],
        [[3, 5], [1, 0]],
        [[2, 3, 4, 5], [0, 3, 1, 2]],
        [[2, 3, 4, 5], [3, 2, 1, 0]],
        [[2, 2, 3, 2, 3, 2], [0, 2, 4, 1, 3, 5]],
      ];
      for (const [shape, perm] of cases) {
        const x = tensor(shape, 40);
        const xv = x.dataSync();
        const outShape = perm.map((a) => shape[a]);
        // Reference: for every output index, the input element at the permuted index.
        const expected = new Float64Array(xv.length);
        const inStrides = shape.map((_, i) => shape.slice(i + 1).reduce((m, d) => m * d, 1));
        for (let o = 0; o < expected.length; o++) {
          let rest = o;
          let offset = 0;
          for (let i = outShape.length - 1; i >= 0; i--) {
            offset += (rest % outShape[i]) * inStrides[perm[i]];
            rest = Math.floor(rest / outShape[i]);
          }
          expected[o] = xv[offset];
        }
        close(tf.transpose(x, perm), Array.from(expected), `transpose ${shape} by ${perm}`);
        const g = tensor(outShape, 41);
        const [dx] = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(tf.transpose(a, perm), g)))([x]);
        // The gradient of a permutation is the inverse permutation of g.
        const gv = g.dataSync();
        const expectedGrad = new Float64Array(xv.length);
        for (let o = 0; o < gv.length; o++) {
          let rest = o;
          let offset = 0;
          for (let i = outShape.length - 1; i >= 0; i--) {
            offset += (rest % outShape[i]) * inStrides[perm[i]];
            rest = Math.floor(rest / outShape[i]);
          }
          expectedGrad[offset] = gv[o];
        }
        close(dx, Array.from(expectedGrad), `transpose gradient ${shape} by ${perm}`);
      }
    });

    check('fused conv2d (bias, relu): forward and gradients of input, filter and bias', () => {
      for (const s of [CONV_SPECS[0], CONV_SPECS[4]]) {
        const { outH, outW } = convShape(s);
        const x = tensor([s.batch, s.inH, s.inW, s.inC], 30);
        const w = tensor([s.kH, s.kW, s.inC, s.outC], 31, 0.5);
        const bias = tensor([s.outC], 32, 0.5);
        const g = tensor([s.batch, outH, outW, s.outC], 33);
        const fused = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor): tf.Tensor =>
          tf.fused.conv2d({ x: a as tf.Tensor4D, filter: b as tf.Tensor4D, bias: c, strides: s.stride, pad: s.padding, activation: 'relu' });
        const pre = conv2dRef(s, x.dataSync(), w.dataSync()).map((v, i) => v + bias.dataSync()[i % s.outC]);
        close(fused(x, w, bias), pre.map((v) => Math.max(0, v)), 'forward');
        const [dx, dw, db] = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(fused(a, b, c), g)))([x, w, bias]);
        const gMasked = Array.from(g.dataSync(), (v, i) => (pre[i] > 0 ? v : 0));
        close(dx, conv2dBackpropInputRef(s, gMasked, w.dataSync()), 'input gradient');
        close(dw, conv2dBackpropFilterRef(s, x.dataSync(), gMasked), 'filter gradient');
        close(db, reduceRef(gMasked, [s.batch, outH, outW, s.outC], [0, 1, 2], false).values, 'bias gradient');
      }
    });

    check('conv2dTranspose k2 s2 and k3 s1: forward and gradients', () => {
      for (const s of [convT, { ...conv1, outC: 3 }]) {
        const { outH, outW } = convShape(s);
        const dy = tensor([s.batch, outH, outW, s.outC], 4);
        const w = tensor([s.kH, s.kW, s.inC, s.outC], 5, 0.5);
        const g = tensor([s.batch, s.inH, s.inW, s.inC], 6);
        const convTranspose = (a: tf.Tensor, b: tf.Tensor): tf.Tensor4D =>
          tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, [s.batch, s.inH, s.inW, s.inC], s.stride, s.padding);
        close(convTranspose(dy, w), conv2dBackpropInputRef(s, dy.dataSync(), w.dataSync()), 'forward');
        const [ddy, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(convTranspose(a, b), g)))([dy, w]);
        close(ddy, conv2dRef(s, g.dataSync(), w.dataSync()), 'input gradient');
        close(dw, conv2dBackpropFilterRef(s, g.dataSync(), dy.dataSync()), 'filter gradient');
      }
    }, WASM_STRIDED_FILTER_GRADIENT);

    check('matMul with every transpose combination, batched and broadcast: forward and gradients', () => {
      const [m, k, n] = [3, 4, 5];
      for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        const a = tensor(ta ? [k, m] : [m, k], 7);
        const b = tensor(tb ? [n, k] : [k, n], 8);
        const g = tensor([m, n], 9);
        const mm = (p: tf.Tensor, q: tf.Tensor): tf.Tensor => tf.matMul(p, q, ta, tb);
        close(mm(a, b), matMulRef(a.dataSync(), b.dataSync(), m, n, k, ta, tb), `forward ${ta}/${tb}`);
        const [da, db] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(mm(p, q), g)))([a, b]);
        // d(Σ g·AB)/dA = g·Bᵀ, d/dB = Aᵀ·g (stored transposed when the operand is).
        const A = ta ? tf.transpose(a) : a;
        const B = tb ? tf.transpose(b) : b;
        const daRef = matMulRef(g.dataSync(), B.dataSync(), m, k, n, false, true);
        const dbRef = matMulRef(A.dataSync(), g.dataSync(), k, n, m, true, false);
        close(ta ? tf.transpose(da) : da, daRef, `A gradient ${ta}/${tb}`);
        close(tb ? tf.transpose(db) : db, dbRef, `B gradient ${ta}/${tb}`);
      }
      const a3 = tensor([2, m, k], 10);
      const b3 = tensor([2, k, n], 11);
      const out = tf.matMul(a3, b3).dataSync();
      for (let i = 0; i < 2; i++) {
        const ref = matMulRef(a3.dataSync().subarray(i * m * k), b3.dataSync().subarray(i * k * n), m, n, k, false, false);
        close(out.subarray(i * m * n, (i + 1) * m * n), ref, `batch ${i}`);
      }
      const shared = tensor([1, k, n], 12);
      const broadcastOut = tf.matMul(a3, shared).dataSync();
      for (let i = 0; i < 2; i++) {
        const ref = matMulRef(a3.dataSync().subarray(i * m * k), shared.dataSync(), m, n, k, false, false);
        close(broadcastOut.subarray(i * m * n, (i + 1) * m * n), ref, `broadcast batch ${i}`);
      }
    });

    const BROADCASTS: Array<[number[], number[]]> = [
      [[2, 3, 4, 5], [2, 3, 4, 5]],
      [[2, 3, 4, 5], [5]],
      [[2, 3, 4, 5], [2, 1, 1, 5]],
      [[2, 1, 4, 1], [1, 3, 1, 5]],
      [[3, 1], [2, 3, 4]],
      [[2, 3, 4, 5], []],
    ];
    check('add, sub, mul, div with broadcasting: forward and gradients', () => {
      BROADCASTS.forEach(([sa, sb], caseIndex) => {
        const a = tensor(sa, 20 + caseIndex);
        // Divisors kept away from zero.
        const b = tf.add(tensor(sb, 40 + caseIndex, 0.5), 1.5);
        const outShape = tf.broadcast_util.assertAndGetBroadcastShape(sa, sb);
        const g = tensor(outShape, 60 + caseIndex);
        const av = a.dataSync();
        const bv = b.dataSync();
        const gv = g.dataSync();
        const size = g.size;
        const ops = {
          add: { f: tf.add, y: (p: number, q: number) => p + q, da: () => 1, db: () => 1 },
          sub: { f: tf.sub, y: (p: number, q: number) => p - q, da: () => 1, db: () => -1 },
          mul: { f: tf.mul, y: (p: number, q: number) => p * q, da: (_p: number, q: number) => q, db: (p: number) => p },
          div: { f: tf.div, y: (p: number, q: number) => p / q, da: (_p: number, q: number) => 1 / q, db: (p: number, q: number) => -p / (q * q) },
        };
        for (const [name, op] of Object.entries(ops)) {
          const y = new Float64Array(size);
          const da = new Float64Array(a.size);
          const db = new Float64Array(b.size);
          for (let i = 0; i < size; i++) {
            const ai = broadcastIndex(i, outShape, sa);
            const bi = broadcastIndex(i, outShape, sb);
            y[i] = op.y(av[ai], bv[bi]);
            da[ai] += gv[i] * op.da(av[ai], bv[bi]);
            db[bi] += gv[i] * op.db(av[ai], bv[bi]);
          }
          const f = (p: tf.Tensor, q: tf.Tensor): tf.Tensor => op.f(p, q);
          close(f(a, b), y, `${name} ${sa}∘${sb} forward`);
          const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(f(p, q), g)))([a, b]);
          assert.deepEqual(ga.shape, sa);
          assert.deepEqual(gb.shape, sb);
          close(ga, da, `${name} ${sa}∘${sb} a-gradient`);
          close(gb, db, `${name} ${sa}∘${sb} b-gradient`);
        }
      });
    });

    check('unary maths (erf, exp, sqrt, relu, sigmoid, tanh, square, neg) and GELU and SiLU with their gradients', () => {
      const x = tensor([4, 257], 80, 4);
      const xv = x.dataSync();
      const unary: Array<[string, (t: tf.Tensor) => tf.Tensor, (v: number) => number]> = [
        ['erf', tf.erf, erfRef],
        ['exp', tf.exp, Math.exp],
        ['sqrt(|x|)', (t) => tf.sqrt(tf.abs(t)), (v) => Math.sqrt(Math.abs(v))],
        ['relu', tf.relu, (v) => Math.max(0, v)],
        ['sigmoid', tf.sigmoid, (v) => 1 / (1 + Math.exp(-v))],
        ['tanh', tf.tanh, Math.tanh],
        ['square', tf.square, (v) => v * v],
        ['neg', tf.neg, (v) => -v],
      ];
      // erf: tfjs's own cpu/wasm kernels use Abramowitz–Stegun 7.1.26 (absolute error ≤ 1.5e-7).
      for (const [name, f, ref] of unary) close(f(x), Array.from(xv, ref), name, 5e-7, 2e-6);
      const g = tensor([4, 257], 81);
      close(gelu(tf, x), Array.from(xv, geluRef), 'gelu', 5e-7, 2e-6);
      const [dx] = tf.grads((t: tf.Tensor) => tf.sum(tf.mul(gelu(tf, t), g)))([x]);
      const gv = g.dataSync();
      // GELU'(x) = Φ(x) + x·φ(x).
      const dref = Array.from(xv, (v, i) => gv[i] * (0.5 * (1 + erfRef(v / Math.SQRT2)) + (v * Math.exp(-v * v / 2)) / Math.sqrt(2 * Math.PI)));
      close(dx, dref, 'gelu gradient', 1e-6, 1e-5);
      // SiLU x·σ(x) and SiLU'(x) = σ(x)·(1 + x·(1 − σ(x))).
      const sigma = (v: number): number => 1 / (1 + Math.exp(-v));
      close(silu(tf, x), Array.from(xv, (v) => v * sigma(v)), 'silu', 5e-7, 2e-6);
      const [ds] = tf.grads((t: tf.Tensor) => tf.sum(tf.mul(silu(tf, t), g)))([x]);
      close(ds, Array.from(xv, (v, i) => gv[i] * sigma(v) * (1 + v * (1 - sigma(v)))), 'silu gradient', 1e-6, 1e-5);
    });

    check('sum, mean and group moments over axes: forward and gradients', () => {
      const shape = [2, 3, 4, 6];
      const x = tensor(shape, 90);
      for (const [axes, mean] of [[[0, 1, 2], false], [[1, 2], true], [[3], false], [[0, 3], true], [[0, 1, 2, 3], true]] as const) {
        const ref = reduceRef(x.dataSync(), shape, axes, mean);
        const f = (t: tf.Tensor): tf.Tensor => (mean ? tf.mean(t, [...axes], true) : tf.sum(t, [...axes], true));
        close(f(x), ref.values, `${mean ? 'mean' : 'sum'} over ${axes}`);
        const g = tensor(ref.shape, 91);
        const [dx] = tf.grads((t: tf.Tensor) => tf.sum(tf.mul(f(t), g)))([x]);
        const count = x.size / g.size;
        const gv = g.dataSync();
        const dref = Array.from({ length: x.size }, (_, i) => gv[broadcastIndex(i, shape, ref.shape)] / (mean ? count : 1));
        close(dx, dref, `${mean ? 'mean' : 'sum'} gradient over ${axes}`);
      }
      // GroupNorm statistics: [N,H,W,G,C/G] over H, W and C/G.
      const grouped = tensor([2, 3, 3, 2, 4], 92);
      const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
      const mref = reduceRef(grouped.dataSync(), grouped.shape, [1, 2, 4], true);
      close(mean, mref.values, 'group mean');
      const sq = Array.from(grouped.dataSync(), (v, i) => (v - mref.values[broadcastIndex(i, grouped.shape, mref.shape)]) ** 2);
      close(variance, reduceRef(sq, grouped.shape, [1, 2, 4], true).values, 'group variance');
      // More alternating kept/reduced runs than the addon's four: a nearest upsampling's gradient sums
      // [N, H, f, W, f, C] over axes 2 and 4 (five runs); [1, 3, 5] of six axes makes six.
      const blocks = [2, 3, 2, 4, 2, 3];
      const u = tensor(blocks, 93);
      const uv = u.dataSync();
      for (const [axes, mean] of [[[2, 4], false], [[2, 4], true], [[0, 2, 4], false], [[1, 3, 5], true]] as const) {
        const ref = reduceRef(uv, blocks, axes, mean);
        close(mean ? tf.mean(u, [...axes], true) : tf.sum(u, [...axes], true), ref.values, `${mean ? 'mean' : 'sum'} over ${axes} of [${blocks}]`);
        const keptShape = blocks.map((d, i) => ((axes as readonly number[]).includes(i) ? 1 : d));
        const maxRef = new Float64Array(ref.values.length).fill(-Infinity);
        const minRef = new Float64Array(ref.values.length).fill(Infinity);
        uv.forEach((v, i) => {
          const o = broadcastIndex(i, blocks, keptShape);
          maxRef[o] = Math.max(maxRef[o], v);
          minRef[o] = Math.min(minRef[o], v);
        });
        close(tf.max(u, [...axes], true), maxRef, `max over ${axes} of [${blocks}]`);
        close(tf.min(u, [...axes], true), minRef, `min over ${axes} of [${blocks}]`);
      }
    });

    check('gather of rows (embedding lookups) and nearest-neighbour resize', () => {
      for (const shape of [[5, 3], [6, 2, 3]]) {
        const table = tensor(shape, 110);
        const tv = table.dataSync();
        const width = tv.length / shape[0];
        for (const idx of [[4, 0, 0, 2], [[1, 2], [3, 0]]]) {
          const flat = idx.flat();
          const expected = flat.flatMap((r) => Array.from(tv.subarray(r * width, (r + 1) * width)));
          const got = tf.gather(table, tf.tensor(idx, undefined, 'int32'));
          assert.deepEqual(got.shape, [...(Array.isArray(idx[0]) ? [2, 2] : [4]), ...shape.slice(1)]);
          close(got, expected, `gather ${JSON.stringify(idx)} of [${shape}]`, 1e-9, 0);
        }
      }
      const images = tensor([2, 3, 4, 5], 111);
      const iv = images.dataSync();
      for (const [size, alignCorners] of [[[6, 8], false], [[5, 7], false], [[2, 3], false], [[5, 7], true]] as const) {
        const [oh, ow] = size;
        // tfjs's rule: source = min(in − 1, ⌊o·in/out⌋), or round(o·(in − 1)/(out − 1)) with alignCorners.
        const source = (o: number, n: number, out: number): number => Math.min(n - 1, alignCorners ? Math.round((o * (n - 1)) / (out - 1)) : Math.floor((o * n) / out));
        const expected: number[] = [];
        for (let b = 0; b < 2; b++) for (let r = 0; r < oh; r++) for (let c = 0; c < ow; c++) for (let d = 0; d < 5; d++) expected.push(iv[((b * 3 + source(r, 3, oh)) * 4 + source(c, 4, ow)) * 5 + d]);
        close(tf.image.resizeNearestNeighbor(images as tf.Tensor4D, [oh, ow], alignCorners), expected, `nearest resize to ${size}${alignCorners ? ' (alignCorners)' : ''}`, 1e-9, 0);
      }
    });

    check('max and average pooling: forward and gradients', () => {
      const shape: [number, number, number, number] = [2, 6, 6, 3];
      const x = tensor(shape, 100);
      for (const [kind, size] of [['max', 2], ['avg', 2], ['avg', 3], ['max', 3]] as const) {
        const pool = (t: tf.Tensor): tf.Tensor4D =>
          kind === 'max' ? tf.maxPool(t as tf.Tensor4D, size, size, 'valid') : tf.avgPool(t as tf.Tensor4D, size, size, 'valid');
        const y = pool(x);
        const g = tensor(y.shape, 101);
        const ref = poolRef(kind, x.dataSync(), shape, size, size, g.dataSync());
        close(y, ref.y, `${kind} pool ${size}`);
        const [dx] = tf.grads((t: tf.Tensor) => tf.sum(tf.mul(pool(t), g)))([x]);
        close(dx, ref.dx, `${kind} pool ${size} gradient`);
      }
    }, WASM_MAX_POOL_GRADIENT);

    check('batch norm, concat, slice and tile: forward and gradients', () => {
      const x = tensor([2, 3, 3, 4], 110, 2);
      const mean = tensor([4], 111, 0.5);
      const variance = tf.add(tensor([4], 112, 0.5), 1);
      const offset = tensor([4], 113);
      const scale = tensor([4], 114);
      const g = tensor([2, 3, 3, 4], 115);
      const [xv, mv, vv, ov, sv, gv] = [x, mean, variance, offset, scale, g].map((t) => t.dataSync());
      const bn = (t: tf.Tensor, s: tf.Tensor, o: tf.Tensor): tf.Tensor => tf.batchNorm(t, mean, variance, o as tf.Tensor1D, s as tf.Tensor1D, 1e-3);
      const inv = (c: number): number => 1 / Math.sqrt(vv[c] + 1e-3);
      close(bn(x, scale, offset), Array.from(xv, (v, i) => (v - mv[i % 4]) * inv(i % 4) * sv[i % 4] + ov[i % 4]), 'batch norm');
      const [dx, ds, dof] = tf.grads((t: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => tf.sum(tf.mul(bn(t, s, o), g)))([x, scale, offset]);
      close(dx, Array.from(gv, (v, i) => v * inv(i % 4) * sv[i % 4]), 'batch norm x-gradient');
      const dsRef = new Float64Array(4);
      const doRef = new Float64Array(4);
      gv.forEach((v, i) => {
        dsRef[i % 4] += v * (xv[i] - mv[i % 4]) * inv(i % 4);
        doRef[i % 4] += v;
      });
      close(ds, dsRef, 'batch norm scale gradient');
      close(dof, doRef, 'batch norm offset gradient');

      const a = tensor([2, 3, 3, 2], 116);
      const b = tensor([2, 3, 3, 3], 117);
      const gc = tensor([2, 3, 3, 5], 118);
      const cat = tf.concat([a, b], 3);
      const [av, bv] = [a.dataSync(), b.dataSync()];
      close(cat, Array.from({ length: 90 }, (_, i) => (i % 5 < 2 ? av[Math.floor(i / 5) * 2 + (i % 5)] : bv[Math.floor(i / 5) * 3 + (i % 5) - 2])), 'concat');
      const [da, db] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.concat([p, q], 3), gc)))([a, b]);
      const gcv = gc.dataSync();
      close(da, Array.from({ length: a.size }, (_, i) => gcv[Math.floor(i / 2) * 5 + (i % 2)]), 'concat gradient (first)');
      close(db, Array.from({ length: b.size }, (_, i) => gcv[Math.floor(i / 3) * 5 + 2 + (i % 3)]), 'concat gradient (second)');
      const sliced = tf.slice(b, [1, 0, 1, 1], [1, 3, 2, 2]);
      close(sliced, Array.from({ length: 12 }, (_, i) => {
        const [y, xx, c] = [Math.floor(i / 4), Math.floor(i / 2) % 2, i % 2];
        return bv[((1 * 3 + y) * 3 + xx + 1) * 3 + c + 1];
      }), 'slice');
      const tiled = tf.tile(tensor([1, 2, 3], 119), [2, 2, 1]);
      const tv = tensor([1, 2, 3], 119).dataSync();
      close(tiled, Array.from({ length: 24 }, (_, i) => tv[(Math.floor(i / 3) % 2) * 3 + (i % 3)]), 'tile');
    });

    check('batchNormTraining (batch statistics): y, mean, variance and gradients of x, γ, β', () => {
      const shape = [3, 4, 5, 6];
      const channels = 6;
      // An offset mean (3) checks that the variance is not computed as E[x²] − μ² in float32.
      const x = tf.add(tensor(shape, 120, 2), 3);
      const gamma = tf.add(tensor([channels], 121, 0.5), 1);
      const beta = tensor([channels], 122);
      const g = tensor(shape, 123);
      const [xv, gmv, btv, gv] = [x, gamma, beta, g].map((t) => t.dataSync());
      const rows = x.size / channels;
      const mean = new Float64Array(channels);
      const variance = new Float64Array(channels);
      xv.forEach((v, i) => (mean[i % channels] += v / rows));
      xv.forEach((v, i) => (variance[i % channels] += (v - mean[i % channels]) ** 2 / rows));
      const inv = Array.from(variance, (v) => 1 / Math.sqrt(v + 1e-5));
      const xhat = Array.from(xv, (v, i) => (v - mean[i % channels]) * inv[i % channels]);
      const out = batchNormTraining(tf, x, gamma, beta, 1e-5);
      close(out.y, xhat.map((h, i) => h * gmv[i % channels] + btv[i % channels]), 'y');
      close(out.mean, mean, 'mean');
      close(out.variance, variance, 'variance');
      const [dx, dgamma, dbeta] = tf.grads((p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) => tf.sum(tf.mul(batchNormTraining(tf, p, q, r, 1e-5).y, g)))([x, gamma, beta]);
      const dBeta = new Float64Array(channels);
      const dGamma = new Float64Array(channels);
      gv.forEach((v, i) => {
        dBeta[i % channels] += v;
        dGamma[i % channels] += v * xhat[i];
      });
      // dx = γ·s·(dy − mean(dy) − x̂·mean(dy·x̂)), the batch-statistics gradient.
      const dxRef = Array.from(gv, (v, i) => {
        const c = i % channels;
        return gmv[c] * inv[c] * (v - dBeta[c] / rows - (xhat[i] * dGamma[c]) / rows);
      });
      close(dx, dxRef, 'x gradient', 1e-5, 2e-3);
      close(dgamma, dGamma, 'γ gradient');
      close(dbeta, dBeta, 'β gradient');
    });

    /**
     * Float64 GroupNorm over x viewed as [rows, pixels, groups, k]: y, and the gradients of x, γ, β
     * for the loss Σ y·g (x̂ = (x − μ)·r; dx = r·(g·γ − mean(g·γ) − x̂·mean(g·γ·x̂)) per (row, group)).
     */
    const groupNormRef = (xv: ArrayLike<number>, gmv: ArrayLike<number>, btv: ArrayLike<number>, gv: ArrayLike<number>, rows: number, groups: number, channels: number) => {
      const pixels = xv.length / rows / channels;
      const k = channels / groups;
      const count = pixels * k;
      const y = new Float64Array(xv.length);
      const dx = new Float64Array(xv.length);
      const dGamma = new Float64Array(channels);
      const dBeta = new Float64Array(channels);
      for (let n = 0; n < rows; n++) {
        for (let g = 0; g < groups; g++) {
          const at = (p: number, j: number): number => (n * pixels + p) * channels + g * k + j;
          let mean = 0;
          for (let p = 0; p < pixels; p++) for (let j = 0; j < k; j++) mean += xv[at(p, j)] / count;
          let variance = 0;
          for (let p = 0; p < pixels; p++) for (let j = 0; j < k; j++) variance += (xv[at(p, j)] - mean) ** 2 / count;
          const r = 1 / Math.sqrt(variance + 1e-5);
          let meanA = 0;
          let meanB = 0;
          for (let p = 0; p < pixels; p++) {
            for (let j = 0; j < k; j++) {
              const i = at(p, j);
              const c = g * k + j;
              const xhat = (xv[i] - mean) * r;
              y[i] = xhat * gmv[c] + btv[c];
              dBeta[c] += gv[i];
              dGamma[c] += gv[i] * xhat;
              meanA += (gv[i] * gmv[c]) / count;
              meanB += (gv[i] * gmv[c] * xhat) / count;
            }
          }
          for (let p = 0; p < pixels; p++) {
            for (let j = 0; j < k; j++) {
              const i = at(p, j);
              const xhat = (xv[i] - mean) * r;
              dx[i] = r * (gv[i] * gmv[g * k + j] - meanA - xhat * meanB);
            }
          }
        }
      }
      return { y, dx, dGamma, dBeta };
    };

    check('groupNorm (NHWC, 4 groups) and layerNorm (last axis): y and gradients of x, γ, β', () => {
      const cases = [
        { what: 'groupNorm', shape: [3, 4, 5, 8], groups: 4, rows: 3, run: (p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) => groupNorm(tf, p, 4, q, r, 1e-5) },
        { what: 'layerNorm', shape: [2, 7, 12], groups: 1, rows: 14, run: (p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) => layerNorm(tf, p, q, r, 1e-5) },
        // Large enough (> 2^18 elements) for the native kernels' multi-threaded paths.
        { what: 'groupNorm (large)', shape: [2, 32, 32, 160], groups: 8, rows: 2, run: (p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) => groupNorm(tf, p, 8, q, r, 1e-5) },
      ];
      for (const [index, k] of cases.entries()) {
        const channels = k.shape[k.shape.length - 1];
        // An offset mean (3) checks that the variance is not E[x²] − μ² in float32.
        const x = tf.add(tensor(k.shape, 130 + index, 2), 3);
        const gamma = tf.add(tensor([channels], 140 + index, 0.5), 1);
        const beta = tensor([channels], 150 + index);
        const g = tensor(k.shape, 160 + index);
        const ref = groupNormRef(x.dataSync(), gamma.dataSync(), beta.dataSync(), g.dataSync(), k.rows, k.groups, channels);
        close(k.run(x, gamma, beta), ref.y, `${k.what} y`);
        const [dx, dgamma, dbeta] = tf.grads((p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) => tf.sum(tf.mul(k.run(p, q, r), g)))([x, gamma, beta]);
        close(dx, ref.dx, `${k.what} x gradient`, 1e-5, 2e-3);
        close(dgamma, ref.dGamma, `${k.what} γ gradient`);
        close(dbeta, ref.dBeta, `${k.what} β gradient`);
      }
    });

    check('softmax over the last axis: values and gradient', () => {
      const shape = [3, 4, 9];
      const n = 9;
      const x = tensor(shape, 180, 4);
      const g = tensor(shape, 181);
      const xv = x.dataSync();
      const gv = g.dataSync();
      const y = new Float64Array(x.size);
      const dx = new Float64Array(x.size);
      for (let r = 0; r < x.size / n; r++) {
        const row = Array.from(xv.subarray(r * n, (r + 1) * n));
        const max = Math.max(...row);
        const e = row.map((v) => Math.exp(v - max));
        const total = e.reduce((a, b) => a + b, 0);
        let dot = 0;
        for (let j = 0; j < n; j++) {
          y[r * n + j] = e[j] / total;
          dot += gv[r * n + j] * y[r * n + j];
        }
        // ∂(Σ g·y)/∂x_j = y_j·(g_j − Σ g·y)
        for (let j = 0; j < n; j++) dx[r * n + j] = y[r * n + j] * (gv[r * n + j] - dot);
      }
      close(tf.softmax(x), y, 'softmax');
      const [grad] = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(tf.softmax(a), g)))([x]);
      close(grad, dx, 'softmax gradient');
    });

    check('layout kernels: transpose (rank 6), pad, split, slice at an offset', () => {
      const shape = [2, 3, 2, 4, 2, 3];
      const x = tensor(shape, 170);
      const xv = x.dataSync();
      const strides = [144, 48, 24, 6, 3, 1];
      const perm = [0, 3, 1, 4, 2, 5];
      const outShape = perm.map((a) => shape[a]);
      const expected = new Float64Array(x.size);
      for (let o = 0; o < x.size; o++) {
        let rest = o;
        let src = 0;
        for (let d = 5; d >= 0; d--) {
          src += (rest % outShape[d]) * strides[perm[d]];
          rest = Math.floor(rest / outShape[d]);
        }
        expected[o] = xv[src];
      }
      close(tf.transpose(x, perm), expected, 'transpose');
      // Large enough (> 2^18 elements) that the native copy splits the rows over threads.
      const big = tensor([4, 64, 33, 40], 172);
      const bv = big.dataSync();
      const swapped = tf.transpose(big, [0, 2, 1, 3]).dataSync();
      let mismatches = 0;
      for (let o = 0; o < big.size; o++) {
        const [n, h, w, c] = [Math.floor(o / (33 * 64 * 40)), Math.floor(o / (64 * 40)) % 33, Math.floor(o / 40) % 64, o % 40];
        if (swapped[o] !== bv[((n * 64 + w) * 33 + h) * 40 + c]) mismatches++;
      }
      assert.equal(mismatches, 0, 'large transpose');
      const img = tensor([2, 3, 4, 5], 171);
      const iv = img.dataSync();
      const padded = tf.pad(img, [[0, 0], [1, 2], [0, 1], [0, 0]], 0.5);
      const pv = Array.from({ length: 2 * 6 * 5 * 5 }, (_, i) => {
        const [n, y, xx, c] = [Math.floor(i / 150), Math.floor(i / 25) % 6, Math.floor(i / 5) % 5, i % 5];
        return y >= 1 && y < 4 && xx < 4 ? iv[((n * 3 + y - 1) * 4 + xx) * 5 + c] : 0.5;
      });
      close(padded, pv, 'pad');
      const [left, right] = tf.split(img, [2, 3], 3);
      close(left, Array.from({ length: 48 }, (_, i) => iv[Math.floor(i / 2) * 5 + (i % 2)]), 'split (first)');
      close(right, Array.from({ length: 72 }, (_, i) => iv[Math.floor(i / 3) * 5 + 2 + (i % 3)]), 'split (second)');
      const sliced = tf.slice(img, [1, 1, 2, 0], [1, 2, 2, 5]);
      close(sliced, Array.from({ length: 20 }, (_, i) => iv[((3 + Math.floor(i / 10) + 1) * 4 + 2 + (Math.floor(i / 5) % 2)) * 5 + (i % 5)]), 'slice');
    });

    check('small conv net (conv, batch norm, GELU, max pool, 1×1 conv, transposed conv): loss and every parameter gradient', () => {
      const params = {} as Record<keyof NetParams, tf.Variable>;
      let seed = 200;
      for (const [name, shape] of Object.entries(NET_SHAPES) as Array<[keyof NetParams, number[]]>) {
        const init = name === 'gamma' ? tf.add(tensor(shape, seed++, 0.2), 1) : tensor(shape, seed++, 0.5);
        params[name] = tf.variable(init, true, `net.${name}.${c.label}`);
      }
      const x = tensor(NET_X, 300) as tf.Tensor4D;
      const target = tensor(NET_X, 301);
      const { value, grads } = tf.variableGrads(() => netLossTf(params, x, target), Object.values(params));
      const plain = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, Float64Array.from(v.dataSync())])) as unknown as NetParams;
      const xv = x.dataSync();
      const tv = target.dataSync();
      close([value.dataSync()[0]], [netLossRef(plain, xv, tv)], 'loss');
      // Central differences on the float64 reference (step 1e-6: truncation and rounding ≪ 1e-6).
      for (const name of Object.keys(NET_SHAPES) as Array<keyof NetParams>) {
        const p = plain[name];
        const numeric = new Float64Array(p.length);
        for (let i = 0; i < p.length; i++) {
          const keep = p[i];
          p[i] = keep + 1e-6;
          const up = netLossRef(plain, xv, tv);
          p[i] = keep - 1e-6;
          const down = netLossRef(plain, xv, tv);
          p[i] = keep;
          numeric[i] = (up - down) / 2e-6;
        }
        close(grads[params[name].name], numeric, `gradient of ${name}`, 1e-4, 5e-3);
      }
      tf.dispose(Object.values(params));
    }, `${WASM_MAX_POOL_GRADIENT}; ${WASM_STRIDED_FILTER_GRADIENT}`);
  });
}

for (const c of BACKEND_CASES) suite(c);
