import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DiffusionError } from '../src/errors.ts';
import { Random } from '../src/rng.ts';
import { addNoise, ddimVariance, makeSchedule } from '../src/schedule.ts';

const close = (a: number, b: number, tol: number, what: string): void => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

describe('noise schedules', () => {
  const linear = makeSchedule({ numTrainTimesteps: 1000, betaSchedule: 'linear', betaStart: 1e-4, betaEnd: 0.02 });

  test('linear β runs 1e-4 → 0.02 and ᾱ is the running product of 1 − β', () => {
    close(linear.betas[0], 1e-4, 1e-15, 'β_0');
    close(linear.betas[999], 0.02, 1e-15, 'β_999');
    let product = 1;
    for (let t = 0; t < 1000; t++) {
      product *= 1 - linear.betas[t];
      close(linear.alphasCumprod[t], product, 1e-12, `ᾱ_${t}`);
    }
  });

  test('pinned diffusers DDIMScheduler._get_variance values (1000-step linear)', () => {
    // diffusers tests/schedulers/test_scheduler_ddim.py::test_variance
    close(ddimVariance(linear, 0, 0), 0, 1e-5, '(0, 0)');
    close(ddimVariance(linear, 420, 400), 0.14771, 1e-5, '(420, 400)');
    close(ddimVariance(linear, 980, 960), 0.3246, 1e-5, '(980, 960)');
    close(ddimVariance(linear, 487, 486), 0.00979, 1e-5, '(487, 486)');
    close(ddimVariance(linear, 999, 998), 0.02, 1e-5, '(999, 998)');
  });

  test('posterior variance β̃_t = (1−ᾱ_{t−1})/(1−ᾱ_t)·β_t, β̃_0 = 0, below β_t', () => {
    assert.equal(linear.posteriorVariance[0], 0);
    for (const t of [1, 10, 487, 999]) {
      const expected = ((1 - linear.alphasCumprod[t - 1]) / (1 - linear.alphasCumprod[t])) * linear.betas[t];
      close(linear.posteriorVariance[t], expected, 1e-15, `β̃_${t}`);
      assert.ok(linear.posteriorVariance[t] < linear.betas[t]);
    }
    // DDPM's fixed_small variance at adjacent steps equals DDIM's η=1 variance (diffusers DDPM test: 0.00979 at 487).
    close(linear.posteriorVariance[487], 0.00979, 1e-5, 'β̃_487');
  });

  test('cosine schedule follows f(t)/f(0) with s = 0.008 and clips β at 0.999', () => {
    const cosine = makeSchedule({ numTrainTimesteps: 1000, betaSchedule: 'cosine' });
    const f = (t: number): number => Math.cos(((t / 1000 + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    for (const t of [0, 100, 500, 900]) close(cosine.alphasCumprod[t], f(t + 1) / f(0), 1e-9, `ᾱ_${t}`);
    assert.equal(cosine.betas[999], 0.999);
    assert.ok(cosine.betas.every((b) => b > 0 && b <= 0.999));
  });

  test('scaled-linear squares a linear ramp of √β (Stable Diffusion values)', () => {
    const s = makeSchedule({ numTrainTimesteps: 1000, betaSchedule: 'scaled-linear', betaStart: 0.00085, betaEnd: 0.012 });
    close(s.betas[0], 0.00085, 1e-12, 'β_0');
    close(s.betas[999], 0.012, 1e-12, 'β_999');
    close(Math.sqrt(s.betas[500]) - Math.sqrt(s.betas[499]), Math.sqrt(s.betas[1]) - Math.sqrt(s.betas[0]), 1e-12, 'linear in √β');
    // ᾱ_999 ≈ 0.00466 for SD's schedule.
    close(s.alphasCumprod[999], 0.00466, 1e-4, 'ᾱ_999');
  });

  test('unknown schedule options fail loudly', () => {
    assert.throws(() => makeSchedule({ betaSchedule: 'quadratic' as never }), (e: unknown) => e instanceof DiffusionError && e.code === 'INVALID_CONFIG');
    assert.throws(() => makeSchedule({ numTrainTimesteps: 1000, bogus: 1 } as never), /unknown option "bogus"/);
  });

  test('q(x_t | x_0) in closed form: mean √ᾱ_t·x_0 and variance 1 − ᾱ_t (and not the course bug (1−ᾱ)·ε)', () => {
    const n = 20000;
    const x0 = new Float32Array(n).fill(0.5);
    const random = new Random(3);
    const noise = random.normalArray(n);
    const t = 300;
    const xt = addNoise(linear, x0, noise, [t]);
    let mean = 0;
    for (const v of xt) mean += v;
    mean /= n;
    let variance = 0;
    for (const v of xt) variance += (v - mean) ** 2;
    variance /= n - 1;
    close(mean, 0.5 * Math.sqrt(linear.alphasCumprod[t]), 0.02, 'mean');
    close(variance, 1 - linear.alphasCumprod[t], 0.03, 'variance');
    assert.ok(Math.abs(variance - (1 - linear.alphasCumprod[t]) ** 2) > 0.1, 'the (1−ᾱ)·ε bug would give (1−ᾱ)² variance');
  });
});
