import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initBackend } from '../src/backend-node.ts';
import { createModel } from '../src/models/index.ts';
import { Random } from '../src/rng.ts';
import type { Tensor, TensorEngine } from '../src/tensor/engine.ts';
import { DiffusionTrainer } from '../src/train/trainer.ts';
import { maxAbsDiff } from './helpers.ts';

/**
 * The tfjs engine (wasm backend, with the project's own conv gradients) against plain reference implementations: forward values and gradients.
 */
let e: TensorEngine;
before(async () => {
  e = await initBackend('wasm');
});

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

function valueAndInputGrads(fn: (a: Tensor, b: Tensor) => Tensor, a: Tensor, b: Tensor, r: Float32Array) {
  const va = e.variable(a, 'a', true);
  const vb = e.variable(b, 'b', true);
  const { value, grads } = e.valueAndGrads(() => e.sum(e.mul(fn(va, vb), e.tensor(r, fn(va, vb).shape))), [va, vb]);
  const y = e.tidy(() => fn(va, vb));
  const out = { y: e.readSync(y).slice(), da: e.readSync(grads[0]).slice(), db: e.readSync(grads[1]).slice() };
  for (const t of [value, ...grads, y, va, vb]) t.dispose();
  return out;
}

describe('tensor engine vs reference implementations', () => {
  for (const [k, stride, padding] of [
    [3, 1, 'same'],
    [1, 1, 'valid'],
    [3, 2, 'same'],
  ] as const) {
    test(`conv2d k=${k} stride=${stride} ${padding}: values and gradients`, () => {
      const random = new Random(k * 10 + stride);
      const xs = [2, 6, 6, 3];
      const ws = [k, k, 3, 4];
      const x = random.normalArray(xs.reduce((a, b) => a * b));
      const w = random.normalArray(ws.reduce((a, b) => a * b));
      // TensorFlow's 'same': output side ⌈in/stride⌉, total padding max((out−1)·s + k − in, 0), the
      // smaller half before (so stride 2 on a side of 6 with k = 3 pads 0 before and 1 after).
      const out = padding === 'same' ? Math.ceil(6 / stride) : Math.floor((6 - k) / stride) + 1;
      const pad = padding === 'same' ? Math.floor(Math.max((out - 1) * stride + k - 6, 0) / 2) : 0;
      const ref = refConv(x, xs, w, ws, stride, pad, out);
      const r = random.normalArray(ref.y.length);
      const xt = e.tensor(x, xs);
      const wt = e.tensor(w, ws);
      const got = valueAndInputGrads((a, b) => e.conv2d(a, b, stride, padding), xt, wt, r);
      xt.dispose();
      wt.dispose();
      const { dx, dw } = ref.grads(r);
      assert.ok(maxAbsDiff(got.y, ref.y) < 1e-4, `forward ${maxAbsDiff(got.y, ref.y)}`);
      assert.ok(maxAbsDiff(got.da, dx) < 1e-4, `dx ${maxAbsDiff(got.da, dx)}`);
      assert.ok(maxAbsDiff(got.db, dw) < 1e-4, `dw ${maxAbsDiff(got.db, dw)}`);
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
    const xt = e.tensor(x, [n, h, w, ci]);
    const ft = e.tensor(f, [k, k, co, ci]);
    const got = valueAndInputGrads((a, b) => e.conv2dTranspose(a, b, [n, h * k, w * k, co], k, 'valid'), xt, ft, r);
    xt.dispose();
    ft.dispose();
    assert.ok(maxAbsDiff(got.y, y) < 1e-4);
    assert.ok(maxAbsDiff(got.da, dx) < 1e-4);
    assert.ok(maxAbsDiff(got.db, df) < 1e-4);
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

  test('gelu is the exact (erf) GELU and silu is x·σ(x)', () => {
    const x = Float32Array.of(-2, -1, 0, 1, 2);
    const g = e.tidy(() => e.gelu(e.tensor(x, [5])));
    const s = e.tidy(() => e.silu(e.tensor(x, [5])));
    assert.ok(maxAbsDiff(e.readSync(g), [-0.0455003, -0.1586553, 0, 0.8413447, 1.9544997]) < 1e-5);
    assert.ok(maxAbsDiff(e.readSync(s), Array.from(x, (v) => v / (1 + Math.exp(-v)))) < 1e-6);
    g.dispose();
    s.dispose();
  });

});

describe('models', () => {
  test('the course ContextUnet (3×16×16, n_feat 64, 5 classes) has ≈1.48 M parameters', () => {
    const m = createModel(e, { kind: 'context-unet', inChannels: 3, nFeat: 64, nCfeat: 5, height: 16, numTrainTimesteps: 500 });
    const count = m.params.count();
    // 1,480,771 in the course's PyTorch model + 256 for the trained 1×1 shortcut that replaces its bug.
    assert.equal(count, 1481027);
    assert.ok(m.params.names('buffers').every((n) => /running_(mean|var)$/.test(n)));
    m.params.dispose();
  });

  test('ContextUnet and UNet2D map [N, H, W, C] to ε̂ of the same shape; same seed → same weights', () => {
    const configs = [
      { kind: 'context-unet' as const, inChannels: 1, nFeat: 8, nCfeat: 3, height: 8, numTrainTimesteps: 50 },
      { kind: 'unet' as const, inChannels: 2, height: 8, width: 8, channels: [8, 16], layersPerBlock: 1, attentionLevels: [1], numClasses: 3, normGroups: 4 },
    ];
    for (const config of configs) {
      const a = createModel(e, config, 4);
      const b = createModel(e, config, 4);
      const x = e.tensor(new Random(1).normalArray(2 * 8 * 8 * config.inChannels), [2, 8, 8, config.inChannels]);
      const t = e.tensor(Float32Array.of(3, 40), [2]);
      const c = e.tensor(Float32Array.of(1, 0, 0, 0, 0.6, 1), [2, 3]);
      const ya = e.tidy(() => a.forward(e, x, t, c, { training: false }));
      const yb = e.tidy(() => b.forward(e, x, t, c, { training: false }));
      assert.deepEqual(ya.shape, [2, 8, 8, config.inChannels]);
      assert.deepEqual(Array.from(e.readSync(ya)), Array.from(e.readSync(yb)));
      for (const tensor of [x, t, c, ya, yb]) tensor.dispose();
      a.params.dispose();
      b.params.dispose();
    }
  });

  test('bad model configs fail loudly', () => {
    assert.throws(() => createModel(e, { kind: 'context-unet', inChannels: 1, nFeat: 12, nCfeat: 2, height: 8, numTrainTimesteps: 10 }), /multiple of 8/);
    assert.throws(() => createModel(e, { kind: 'context-unet', inChannels: 1, nFeat: 8, nCfeat: 2, height: 10, numTrainTimesteps: 10 }), /multiple of 4/);
    assert.throws(() => createModel(e, { kind: 'unet', inChannels: 1, height: 8, width: 8, channels: [8], layersPerBlock: 1, attentionLevels: [], numClasses: 2, normGroups: 4, extra: 1 } as never), /unknown option "extra"/);
    assert.throws(() => createModel(e, { kind: 'transformer' } as never), /model.kind/);
  });

  test('training steps leak no tensors (tf.memory().numTensors is stable)', () => {
    for (const config of [
      { kind: 'context-unet' as const, inChannels: 1, nFeat: 8, nCfeat: 2, height: 8, numTrainTimesteps: 50 },
      { kind: 'unet' as const, inChannels: 1, height: 8, width: 8, channels: [8, 8], layersPerBlock: 1, attentionLevels: [1], numClasses: 2, normGroups: 4 },
    ]) {
      const model = createModel(e, config, 0);
      const trainer = new DiffusionTrainer(e, model, { numTrainTimesteps: 50, betaSchedule: 'linear', betaStart: 1e-4, betaEnd: 0.02 }, { batchSize: 4 }, 2);
      const x0 = new Random(2).normalArray(4 * 64).map((v) => Math.tanh(v));
      const labels = Int32Array.of(0, 1, 0, 1);
      trainer.trainStep(x0, labels, 4, 100);
      const baseline = e.numTensors();
      for (let i = 0; i < 3; i++) trainer.trainStep(x0, labels, 4, 100);
      assert.equal(e.numTensors(), baseline, `${config.kind}: tensors leaked`);
      trainer.dispose();
      model.params.dispose();
    }
  });
});
