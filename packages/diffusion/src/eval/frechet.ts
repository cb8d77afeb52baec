import { DiffusionError } from '../errors.ts';

/**
 * Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017, the FID formula):
 *   d² = ‖μ₁ − μ₂‖² + tr(Σ₁) + tr(Σ₂) − 2·tr((Σ₁Σ₂)^{1/2}).
 * tr((Σ₁Σ₂)^{1/2}) = Σ √λᵢ where λᵢ are the eigenvalues of the symmetric PSD matrix √Σ₁·Σ₂·√Σ₁
 * (similar to Σ₁Σ₂), so only symmetric eigendecompositions are needed — done by cyclic Jacobi in float64.
 */
export interface Gaussian {
  dim: number;
  mean: Float64Array;
  covariance: Float64Array;
}

/** Mean and unbiased covariance of `count` rows of `dim` features. */
export function fitGaussian(features: ArrayLike<number>, count: number, dim: number): Gaussian {
  if (count < 2 || features.length !== count * dim) throw new DiffusionError('INVALID_ARGUMENT', `fitGaussian: need ≥ 2 rows of ${dim}, got ${features.length} values for ${count}`);
  const mean = new Float64Array(dim);
  for (let r = 0; r < count; r++) for (let j = 0; j < dim; j++) mean[j] += features[r * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= count;
  const covariance = new Float64Array(dim * dim);
  const centred = new Float64Array(dim);
  for (let r = 0; r < count; r++) {
    for (let j = 0; j < dim; j++) centred[j] = features[r * dim + j] - mean[j];
    for (let i = 0; i < dim; i++) {
      const ci = centred[i];
      if (ci === 0) continue;
      for (let j = i; j < dim; j++) covariance[i * dim + j] += ci * centred[j];
    }
  }
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      const v = covariance[i * dim + j] / (count - 1);
      covariance[i * dim + j] = v;
      covariance[j * dim + i] = v;
    }
  }
  return { dim, mean, covariance };
}

/** Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations. Returns values and column eigenvectors. */
export function symmetricEigen(matrix: Float64Array, n: number, maxSweeps = 100): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale += a[i] * a[i];
  const tolerance = 1e-22 * Math.max(scale, 1e-300);
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
    if (off <= tolerance) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        // Rotation angle that zeroes a[p][q] (Golub & Van Loan, Algorithm 8.5.1).
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  return { values, vectors: v };
}

/** Square root of a symmetric PSD matrix: V·diag(√max(λ, 0))·Vᵀ. */
export function sqrtSymmetric(matrix: Float64Array, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(matrix, n);
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const root = Math.sqrt(Math.max(values[k], 0));
    if (root === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = vectors[i * n + k] * root;
      for (let j = 0; j < n; j++) out[i * n + j] += vik * vectors[j * n + k];
    }
  }
  return out;
}

function multiply(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += aik * b[k * n + j];
    }
  }
  return out;
}

export function frechetDistance(g1: Gaussian, g2: Gaussian): number {
  if (g1.dim !== g2.dim) throw new DiffusionError('SHAPE_MISMATCH', `frechetDistance: dims ${g1.dim} vs ${g2.dim}`);
  const n = g1.dim;
  let meanTerm = 0;
  for (let i = 0; i < n; i++) meanTerm += (g1.mean[i] - g2.mean[i]) ** 2;
  let traces = 0;
  for (let i = 0; i < n; i++) traces += g1.covariance[i * n + i] + g2.covariance[i * n + i];
  const root1 = sqrtSymmetric(g1.covariance, n);
  const product = multiply(multiply(root1, g2.covariance, n), root1, n);
  // Symmetrise against rounding before the eigen-solve.
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const m = 0.5 * (product[i * n + j] + product[j * n + i]);
      product[i * n + j] = m;
      product[j * n + i] = m;
    }
  }
  const { values } = symmetricEigen(product, n);
  let traceSqrt = 0;
  for (const v of values) traceSqrt += Math.sqrt(Math.max(v, 0));
  return Math.max(meanTerm + traces - 2 * traceSqrt, 0);
}
