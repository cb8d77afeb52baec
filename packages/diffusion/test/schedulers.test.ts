import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DiffusionError } from '../src/errors.ts';
import { Random } from '../src/rng.ts';
import { DdimScheduler, DdpmScheduler, type NoiseScheduler, type SchedulerConfig, createScheduler, spacedTimesteps } from '../src/schedulers/index.ts';
import { maxAbsDiff } from './helpers.ts';

/** A fixed "model": ε̂ is a smooth function of x and t, so loops are deterministic and non-trivial. */
function fakeModel(x: Float32Array, t: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = 0.6 * x[i] + 0.1 * Math.sin(i + t / 50);
  return out;
}

function runLoop(s: NoiseScheduler, steps: number, seed: number, size = 64): Float32Array {
  const random = new Random(seed);
  let x = random.normalArray(size);
  const ts = s.timesteps(steps);
  for (let i = 0; i < ts.length; i++) {
    const prev = i + 1 < ts.length ? ts[i + 1] : -1;
    const noise = s.needsNoise(ts[i], prev) ? random.normalArray(size) : undefined;
    x = s.step(fakeModel(x, ts[i]), ts[i], prev, x, noise).prevSample;
  }
  return x;
}

const suites: Array<{ name: string; make: (c?: Partial<SchedulerConfig>) => NoiseScheduler; steps: number }> = [
  { name: 'DDPM', make: (c) => new DdpmScheduler({ numTrainTimesteps: 100, ...c }), steps: 100 },
  { name: 'DDIM', make: (c) => new DdimScheduler({ numTrainTimesteps: 100, ...c }), steps: 20 },
];

for (const { name, make, steps } of suites) {
  describe(`scheduler conformance: ${name}`, () => {
    test('config round-trips through JSON and gives identical steps', () => {
      const a = make({ eta: 0.5, timestepSpacing: 'trailing', varianceType: 'fixed_large' });
      const b = createScheduler(JSON.parse(JSON.stringify(a.config)));
      assert.deepEqual(b.config, a.config);
      assert.deepEqual(Array.from(b.timesteps(steps)), Array.from(a.timesteps(steps)));
      assert.deepEqual(Array.from(runLoop(b, steps, 5)), Array.from(runLoop(a, steps, 5)));
    });

    test('timesteps(n) is pure, descending and inside [0, T)', () => {
      const s = make();
      const first = Array.from(s.timesteps(steps));
      s.timesteps(7);
      assert.deepEqual(Array.from(s.timesteps(steps)), first);
      for (let i = 1; i < first.length; i++) assert.ok(first[i] < first[i - 1]);
      assert.ok(first[0] < 100 && first[first.length - 1] >= 0);
    });

    test('unknown options and keys fail loudly', () => {
      assert.throws(() => make({ timestepSpacing: 'linspace' as never }), (e: unknown) => e instanceof DiffusionError && e.code === 'INVALID_CONFIG');
      assert.throws(() => make({ varianceType: 'learned' as never }), /varianceType/);
      assert.throws(() => createScheduler({ kind: 'pndm' as never }), /scheduler.kind/);
      assert.throws(() => createScheduler({ kind: 'ddim', setAlphaToOne: true } as never), /unknown option "setAlphaToOne"/);
    });

    test('step rejects mismatched sizes and out-of-range timesteps', () => {
      const s = make();
      assert.throws(() => s.step(new Float32Array(3), 10, 9, new Float32Array(4), new Float32Array(4)), /SHAPE|values/);
      assert.throws(() => s.step(new Float32Array(4), 100, 99, new Float32Array(4), new Float32Array(4)), /out of range/);
      assert.throws(() => s.step(new Float32Array(4), 10, 10, new Float32Array(4), new Float32Array(4)), /prevT/);
    });

    test('a perfect ε̂ recovers x_0 in predOriginalSample at any t', () => {
      const s = make();
      const random = new Random(9);
      const x0 = random.normalArray(32).map((v) => Math.max(-1, Math.min(1, v * 0.5)));
      const eps = random.normalArray(32);
      const t = 60;
      const a = s.schedule.alphasCumprod[t];
      const xt = x0.map((v, i) => Math.sqrt(a) * v + Math.sqrt(1 - a) * eps[i]);
      const out = s.step(eps, t, 59, xt, random.normalArray(32));
      assert.ok(maxAbsDiff(out.predOriginalSample, x0) < 1e-5);
    });

    test('full-loop regression: same seed → same result, different seed → different', () => {
      const s = make({ eta: 1 });
      const a = runLoop(s, steps, 11);
      assert.deepEqual(Array.from(runLoop(s, steps, 11)), Array.from(a));
      assert.ok(maxAbsDiff(runLoop(s, steps, 12), a) > 1e-3);
      assert.ok(a.every(Number.isFinite));
    });
  });
}

describe('DDIM against DDPM', () => {
  test('η = 1 over every timestep equals the DDPM posterior-variance (fixed_small) step given the same noise', () => {
    const T = 1000;
    const ddpm = new DdpmScheduler({ numTrainTimesteps: T, varianceType: 'fixed_small' });
    const ddim = new DdimScheduler({ numTrainTimesteps: T, eta: 1 });
    const random = new Random(21);
    const x = random.normalArray(48);
    const eps = random.normalArray(48);
    const z = random.normalArray(48);
    for (const t of [999, 700, 420, 100, 1]) {
      const a = ddpm.step(eps, t, t - 1, x, z);
      const b = ddim.step(eps, t, t - 1, x, z);
      assert.ok(maxAbsDiff(a.prevSample, b.prevSample) < 1e-5, `t=${t}: ${maxAbsDiff(a.prevSample, b.prevSample)}`);
      assert.ok(maxAbsDiff(a.predOriginalSample, b.predOriginalSample) < 1e-6);
    }
    // And over a whole 1000-step loop with the same noise stream.
    const full = (s: NoiseScheduler): Float32Array => runLoop(s, T, 33, 16);
    assert.ok(maxAbsDiff(full(ddpm), full(ddim)) < 1e-3);
  });

  test('η = 0 is deterministic: no noise is needed and repeated runs agree exactly', () => {
    const ddim = new DdimScheduler({ numTrainTimesteps: 1000, eta: 0 });
    const ts = ddim.timesteps(25);
    assert.ok(ts.every((t, i) => !ddim.needsNoise(t, i + 1 < ts.length ? ts[i + 1] : -1)));
    const x = new Random(4).normalArray(16);
    const a = ddim.step(fakeModel(x, 500), 500, 480, x);
    const b = ddim.step(fakeModel(x, 500), 500, 480, x, new Random(99).normalArray(16));
    assert.deepEqual(Array.from(a.prevSample), Array.from(b.prevSample));
  });

  test('leading and trailing spacing (diffusers values for T = 1000)', () => {
    assert.deepEqual(Array.from(spacedTimesteps(1000, 10, 'leading')), [900, 800, 700, 600, 500, 400, 300, 200, 100, 0]);
    assert.deepEqual(Array.from(spacedTimesteps(1000, 10, 'trailing')), [999, 899, 799, 699, 599, 499, 399, 299, 199, 99]);
    assert.deepEqual(Array.from(spacedTimesteps(1000, 1000, 'leading')).slice(0, 3), [999, 998, 997]);
    assert.throws(() => spacedTimesteps(1000, 0, 'leading'), /steps/);
  });

  test('DDPM fixed_large uses σ² = β_t, fixed_small σ² = β̃_t', () => {
    const large = new DdpmScheduler({ numTrainTimesteps: 1000, varianceType: 'fixed_large' });
    const small = new DdpmScheduler({ numTrainTimesteps: 1000, varianceType: 'fixed_small' });
    assert.ok(Math.abs(large.variance(487, 486) - large.schedule.betas[487]) < 1e-12);
    assert.ok(Math.abs(small.variance(487, 486) - 0.00979) < 1e-5);
  });
});
