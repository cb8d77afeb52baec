/**
 * The native backend's own behaviour: registration, tensor leaks across training steps, buffer
 * recycling safety, argument checking, and the shape-folding helpers (these run without the addon).
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { loadAddon } from '../src/addon.ts';
import { pooledBufferBytes } from '../src/pool.ts';
import { NativeBackendError, nativeBackendAvailable, nativeBackendUnavailableReason, registerNativeBackend, setNativeThreads } from '../src/index.ts';
import { broadcastShape, foldBroadcast, foldReduce, regionCopy, type StridedCopy, tileInto, transposeCopy } from '../src/shapes.ts';
import { requireNative } from './backends.ts';
import { broadcastIndex, seededValues } from './reference.ts';

/** Skips (or fails under FLASHDIFF_REQUIRE_NATIVE=1) when the addon is not built. */
async function nativeOrSkip(t: TestContext): Promise<boolean> {
  if (await registerNativeBackend(tf)) {
    await tf.setBackend('native');
    return true;
  }
  if (requireNative) assert.fail(`FLASHDIFF_REQUIRE_NATIVE=1 but the native backend is unavailable: ${nativeBackendUnavailableReason()}`);
  t.skip(nativeBackendUnavailableReason());
  return false;
}

describe('shape folding (pure JS)', () => {
  test('foldBroadcast reproduces numpy broadcasting for every shape pair', () => {
    const shapes = [[2, 3, 4, 5], [5], [2, 1, 1, 5], [1, 3, 1, 5], [3, 1], [1], [], [2, 1, 4, 1], [4, 5], [2, 3, 1, 1, 5]];
    let folded = 0;
    for (const a of shapes) {
      for (const b of shapes) {
        const out = broadcastShape(a, b);
        if (!out) continue;
        const view = foldBroadcast(a, b, out);
        if (!view) continue;
        folded++;
        const size = out.reduce((p, q) => p * q, 1);
        assert.equal(view.dims.reduce((p, q) => p * q, 1), size);
        // Walk the 4-D view and check each operand offset against the broadcasting definition.
        let i = 0;
        for (let i0 = 0; i0 < view.dims[0]; i0++)
          for (let i1 = 0; i1 < view.dims[1]; i1++)
            for (let i2 = 0; i2 < view.dims[2]; i2++)
              for (let i3 = 0; i3 < view.dims[3]; i3++, i++) {
                const idx = [i0, i1, i2, i3];
                const offA: number = idx.reduce((s: number, v: number, k: number): number => s + v * view.aStrides[k], 0);
                const offB: number = idx.reduce((s: number, v: number, k: number): number => s + v * view.bStrides[k], 0);
                assert.equal(offA, broadcastIndex(i, out, a), `a ${a} with ${b} at ${i}`);
                assert.equal(offB, broadcastIndex(i, out, b), `b ${b} with ${a} at ${i}`);
              }
      }
    }
    assert.ok(folded > 50);
    assert.equal(broadcastShape([2, 3], [4, 3]), null);
  });

  test('foldReduce merges runs and refuses more than four alternating groups', () => {
    const v = foldReduce([100, 16, 16, 64], [0, 1, 2]);
    assert.deepEqual(v && Array.from(v.dims), [1, 1, 25600, 64]);
    assert.deepEqual(v && Array.from(v.reduceFlags), [0, 0, 1, 0]);
    assert.equal(v?.count, 25600);
    const g = foldReduce([2, 3, 3, 2, 4], [1, 2, 4]);
    assert.deepEqual(g && Array.from(g.dims), [2, 9, 2, 4]);
    assert.deepEqual(g && Array.from(g.reduceFlags), [0, 1, 0, 1]);
    assert.equal(foldReduce([2, 3, 4, 5, 6], [0, 2, 4]), null);
  });

  /** What the addon's copyStrided does, element by element (native/layout.cc). */
  const applyCopy = (src: Float32Array, dst: Float32Array, c: StridedCopy): void => {
    const total = c.dims.reduce((a, b) => a * b, 1);
    for (let i = 0; i < total; i++) {
      let rest = i;
      let s = c.srcOffset;
      let d = c.dstOffset;
      for (let k = c.dims.length - 1; k >= 0; k--) {
        const index = rest % c.dims[k];
        rest = Math.floor(rest / c.dims[k]);
        s += index * c.srcStrides[k];
        d += index * c.dstStrides[k];
      }
      dst[d] = src[s];
    }
  };

  test('strided copies (slice, concat placement, transpose) and tileInto match index-by-index definitions', () => {
    const shape = [3, 4, 5];
    const src = seededValues(60, 7);
    const size = [2, 3, 2];
    const dst = new Float32Array(12);
    applyCopy(src, dst, regionCopy(shape, [1, 1, 2], size, [0, 0, 0], size));
    for (let i = 0; i < 12; i++) {
      const [a, b, c] = [Math.floor(i / 6), Math.floor(i / 2) % 3, i % 2];
      assert.equal(dst[i], src[((a + 1) * 4 + b + 1) * 5 + c + 2]);
    }
    // A channel block of [3,4,5] into channels 2..6 of [3,4,8]: the two outer axes merge into one.
    const placed = regionCopy(shape, [0, 0, 0], [3, 4, 8], [0, 0, 2], shape);
    assert.deepEqual([Array.from(placed.dims), Array.from(placed.srcStrides), Array.from(placed.dstStrides), placed.dstOffset], [[12, 5], [5, 1], [8, 1], 2]);
    const wide = new Float32Array(96);
    applyCopy(src, wide, placed);
    for (let i = 0; i < 96; i++) assert.equal(wide[i], i % 8 >= 2 && i % 8 < 7 ? src[Math.floor(i / 8) * 5 + (i % 8) - 2] : 0);
    // A whole-array copy is one run.
    assert.deepEqual(Array.from(regionCopy(shape, [0, 0, 0], shape, [0, 0, 0], shape).dims), [60]);
    const perm = [2, 0, 1];
    const transposed = new Float32Array(60);
    applyCopy(src, transposed, transposeCopy(shape, perm));
    for (let i = 0; i < 60; i++) {
      const [c, a, b] = [Math.floor(i / 12), Math.floor(i / 4) % 3, i % 4];
      assert.equal(transposed[i], src[(a * 4 + b) * 5 + c]);
    }
    const reps = [2, 1, 3];
    const tiled = new Float32Array(60 * 6);
    tileInto(src, shape, reps, tiled);
    const outShape = [6, 4, 15];
    for (let i = 0; i < tiled.length; i++) {
      const [a, b, c] = [Math.floor(i / 60), Math.floor(i / 15) % 4, i % 15];
      assert.equal(tiled[i], src[((a % 3) * 4 + b) * 5 + (c % 5)], `tile at ${i} of ${outShape}`);
    }
  });
});

describe('native backend', () => {
  test('registration is idempotent, reports availability and does not switch the active backend', async (t) => {
    await tf.setBackend('cpu');
    const first = await registerNativeBackend(tf);
    const second = await registerNativeBackend(tf);
    assert.equal(first, second);
    assert.equal(first, nativeBackendAvailable());
    assert.equal(tf.getBackend(), 'cpu');
    if (!first) {
      if (requireNative) assert.fail(nativeBackendUnavailableReason());
      assert.notEqual(nativeBackendUnavailableReason(), '');
      t.skip(nativeBackendUnavailableReason());
      return;
    }
    assert.equal(nativeBackendUnavailableReason(), '');
    // Every cpu kernel is served on 'native' too (copied, or replaced).
    const native = new Set(tf.getKernelsForBackend('native').map((k) => k.kernelName));
    for (const k of tf.getKernelsForBackend('cpu')) assert.ok(native.has(k.kernelName), k.kernelName);
  });

  test('tensor count is stable across training steps (Adam) and the loss decreases', async (t) => {
    if (!(await nativeOrSkip(t))) return;
    const w1 = tf.variable(tf.tensor(seededValues(3 * 3 * 3 * 8, 1, 0.3), [3, 3, 3, 8]), true, 'leak.w1');
    const b1 = tf.variable(tf.zeros([8]), true, 'leak.b1');
    const gamma = tf.variable(tf.ones([8]), true, 'leak.gamma');
    const w2 = tf.variable(tf.tensor(seededValues(2 * 2 * 3 * 16, 2, 0.3), [2, 2, 3, 16]), true, 'leak.w2');
    const b2 = tf.variable(tf.zeros([1, 1, 1, 3]), true, 'leak.b2');
    const x = tf.tensor(seededValues(4 * 8 * 8 * 3, 3), [4, 8, 8, 3]) as tf.Tensor4D;
    const target = tf.tensor(seededValues(4 * 8 * 8 * 3, 4, 0.5), [4, 8, 8, 3]);
    const optimizer = tf.train.adam(1e-2);
    const step = (): number => {
      const loss = optimizer.minimize(() => {
        const h = tf.conv2d(x, w1 as tf.Tensor4D, 1, 'same');
        const { mean, variance } = tf.moments(h, [0, 1, 2]);
        const a = tf.relu(tf.batchNorm(h, mean, variance, b1, gamma, 1e-5)) as tf.Tensor4D;
        const pooled = tf.concat([tf.maxPool(a, 2, 2, 'valid'), tf.avgPool(a, 2, 2, 'valid')], 3);
        const up = tf.add(tf.conv2dTranspose(pooled, w2 as tf.Tensor4D, [4, 8, 8, 3], 2, 'valid'), tf.tile(b2, [4, 8, 8, 1]));
        return tf.mean(tf.squaredDifference(up, target)) as tf.Scalar;
      }, true);
      const value = loss!.dataSync()[0];
      loss!.dispose();
      return value;
    };
    const first = step();
    step();
    const counts: number[] = [];
    let last = first;
    for (let i = 0; i < 4; i++) {
      last = step();
      counts.push(tf.memory().numTensors);
    }
    assert.ok(counts.every((n) => n === counts[0]), `tensor counts drift: ${counts}`);
    assert.ok(last < first, `loss did not decrease: ${first} → ${last}`);
    tf.dispose([w1, b1, gamma, w2, b2, x, target]);
    optimizer.dispose();
  });

  test('values read with dataSync survive recycling of the disposed tensor buffer', async (t) => {
    if (!(await nativeOrSkip(t))) return;
    const size = 64 * 1024;
    const a = tf.tensor(seededValues(size, 5), [size]);
    const b = tf.tensor(seededValues(size, 6), [size]);
    const sum = tf.add(a, b);
    const read = sum.dataSync();
    const copy = Float32Array.from(read);
    sum.dispose();
    // Same-length outputs would reuse a recycled buffer; the escaped one must not be handed out.
    const others = [tf.mul(a, b), tf.sub(a, b), tf.exp(a), tf.neg(b)];
    assert.deepEqual(Array.from(read.subarray(0, 64)), Array.from(copy.subarray(0, 64)));
    assert.ok(read.every((v, i) => v === copy[i]));
    // A recycled (non-escaped) buffer yields correct results on reuse.
    const neg = tf.neg(a);
    neg.dispose();
    const again = tf.neg(b).dataSync();
    const bv = b.dataSync();
    assert.ok(again.every((v, i) => v === -bv[i]));
    tf.dispose([a, b, ...others]);
  });

  test('a buffer that was reshaped returns to the pool once every reference is gone, and is reused correctly', async (t) => {
    if (!(await nativeOrSkip(t))) return;
    const size = 3 * 64 * 1024 + 7; // a length no other test uses
    const a = tf.tensor(seededValues(size, 7), [size]);
    const neg = tf.neg(a);
    const reshaped = tf.reshape(neg, [1, size]);
    const before = pooledBufferBytes();
    neg.dispose();
    assert.equal(pooledBufferBytes(), before, 'still referenced by the reshape: not recycled yet');
    reshaped.dispose();
    assert.equal(pooledBufferBytes(), before + size * 4, 'recycled after its last reference');
    const again = tf.exp(a);
    assert.equal(pooledBufferBytes(), before, 'the next same-length output takes it');
    const av = a.dataSync();
    const ev = again.dataSync();
    assert.ok(ev.every((v, i) => Math.abs(v - Math.exp(av[i])) <= 1e-6 * Math.max(1, Math.exp(av[i]))));
    tf.dispose([a, again]);
  });

  test('the addon rejects wrong arguments with a TypeError instead of reading out of bounds', (t) => {
    const addon = loadAddon();
    if (!addon) {
      if (requireNative) assert.fail(nativeBackendUnavailableReason());
      t.skip(nativeBackendUnavailableReason());
      return;
    }
    const geometry = Int32Array.from([1, 4, 4, 2, 3, 3, 2, 4, 4, 1, 1, 1, 1, 1, 1, 1, 1]);
    assert.throws(() => addon.convForward(new Float32Array(8), new Float32Array(36), new Float32Array(32), geometry, 1), TypeError);
    assert.throws(() => addon.unary(0, new Float32Array(10), new Float32Array(5)), TypeError);
    assert.throws(() => addon.binary(0, new Float32Array(4), new Float32Array(4), new Float32Array(8), Int32Array.from([1, 1, 1, 8]), Int32Array.from([0, 0, 0, 1]), Int32Array.from([0, 0, 0, 1])), TypeError);
    assert.throws(() => addon.matMul(new Float32Array(4), new Float32Array(4), new Float32Array(4), 1, 2, 2, 3, 0, 0, 0, 0), TypeError);
    const dims = Int32Array.from([2, 3]);
    assert.throws(() => addon.copyStrided(new Float32Array(6), 1, new Float32Array(6), 0, dims, Int32Array.from([3, 1]), Int32Array.from([3, 1])), TypeError);
    assert.throws(() => addon.copyStrided(new Float32Array(6), 0, new Float32Array(6), 0, dims, Int32Array.from([3, -1]), Int32Array.from([3, 1])), TypeError);
    const f = (n: number): Float32Array => new Float32Array(n);
    assert.throws(() => addon.groupNormForward(f(24), f(4), f(4), f(24), f(4), f(4), 2, 3, 4, 1e-5), TypeError); // 4 channels in 3 groups
    assert.throws(() => addon.groupNormBackward(f(24), f(12), f(4), f(4), f(4), f(24), f(4), f(4), 2, 2, 4), TypeError); // short dy
  });

  test('setNativeThreads validates its argument', async (t) => {
    assert.throws(() => setNativeThreads(0), (e: unknown) => e instanceof NativeBackendError && e.code === 'INVALID_THREADS');
    assert.throws(() => setNativeThreads(1.5), (e: unknown) => e instanceof NativeBackendError && e.code === 'INVALID_THREADS');
    if (!nativeBackendAvailable()) {
      if (requireNative) assert.fail(nativeBackendUnavailableReason());
      t.skip(nativeBackendUnavailableReason());
      return;
    }
    setNativeThreads(1);
    assert.equal(loadAddon()?.info().threads, 1);
    setNativeThreads(2);
    assert.equal(loadAddon()?.info().threads, 2);
  });
});
