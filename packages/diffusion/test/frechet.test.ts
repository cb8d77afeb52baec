import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fitGaussian, frechetDistance, sqrtSymmetric, symmetricEigen } from '../src/eval/frechet.ts';
import { Random } from '../src/rng.ts';

describe('Fréchet distance', () => {
  test('Jacobi eigen-decomposition reconstructs a random symmetric matrix', () => {
    const n = 12;
    const random = new Random(5);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = random.normal();
    const { values, vectors } = symmetricEigen(a, n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += vectors[i * n + k] * values[k] * vectors[j * n + k];
        assert.ok(Math.abs(s - a[i * n + j]) < 1e-9);
      }
    }
  });

  test('sqrtSymmetric(A)² = A for a PSD matrix', () => {
    const n = 6;
    const random = new Random(6);
    const b = Float64Array.from({ length: n * n }, () => random.normal());
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) a[i * n + j] += b[i * n + k] * b[j * n + k];
    const r = sqrtSymmetric(a, n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += r[i * n + k] * r[k * n + j];
        assert.ok(Math.abs(s - a[i * n + j]) < 1e-8);
      }
    }
  });

  test('matches the closed form for diagonal Gaussians and is 0 for identical ones', () => {
    const g1 = { dim: 2, mean: Float64Array.of(0, 1), covariance: Float64Array.of(4, 0, 0, 1) };
    const g2 = { dim: 2, mean: Float64Array.of(3, 1), covariance: Float64Array.of(1, 0, 0, 9) };
    // Σ (μ1−μ2)² + Σ (σ1 − σ2)² = 9 + (2−1)² + (1−3)² = 14
    assert.ok(Math.abs(frechetDistance(g1, g2) - 14) < 1e-9);
    assert.ok(frechetDistance(g1, g1) < 1e-9);
  });

  test('fitted Gaussians: near samples are closer than shifted ones', () => {
    const random = new Random(8);
    const dim = 8;
    const n = 2000;
    const draw = (shift: number): Float64Array => Float64Array.from({ length: n * dim }, (_, i) => random.normal() * (1 + (i % dim) / 8) + shift);
    const a = fitGaussian(draw(0), n, dim);
    const b = fitGaussian(draw(0), n, dim);
    const c = fitGaussian(draw(0.5), n, dim);
    const same = frechetDistance(a, b);
    const shifted = frechetDistance(a, c);
    assert.ok(same < 0.1, `same ${same}`);
    assert.ok(Math.abs(shifted - dim * 0.25) < 0.3, `shifted ${shifted}`);
  });
});
