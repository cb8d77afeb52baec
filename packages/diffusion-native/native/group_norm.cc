// GroupNorm (Wu & He 2018) forward and backward in one pass each, channels last; LayerNorm (Ba et al.
// 2016) is the same kernel with one group and one "pixel" per row. Upstream counterpart: PyTorch's
// aten/src/ATen/native/cpu/group_norm_kernel.cpp (same saved statistics: mean and 1/σ per
// (sample, group)). x is viewed as [N, S, G, K]: N samples (LayerNorm: rows), S pixels, G groups of
// K = C/G channels; statistics are over S×K per (sample, group), biased variance, float64 sums.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "elementwise.h"
#include "napi_call.h"

namespace flashdiff {

namespace {

struct GnShape {
  int64_t n, s, g, k, c;
};

GnShape shapeOf(size_t size, int n, int groups, int channels) {
  if (n < 1 || groups < 1 || channels < 1 || channels % groups != 0) throw std::invalid_argument("groupNorm: bad rows/groups/channels");
  const int64_t perSample = int64_t(size) / n;
  if (size == 0 || int64_t(size) % n != 0 || perSample % channels != 0) throw std::invalid_argument("groupNorm: size is not rows × pixels × channels");
  return {n, perSample / channels, groups, channels / groups, channels};
}

// groupNormForward(x, gamma, beta, y, mean, rstd, n, groups, channels, epsilon):
// y = (x − μ)·r·γ + β with μ, r = 1/√(σ² + ε) per (sample, group), written to mean/rstd ([N·G]).
napi_value GroupNormForward(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call c(env, info);
    c.need(10);
    size_t size;
    const float* x = c.typed<float>(0, napi_float32_array, size);
    const GnShape sh = shapeOf(size, c.i32(6), c.i32(7), c.i32(8));
    const double epsilon = c.f64(9);
    const float* gamma = c.f32(1, sh.c);
    const float* beta = c.f32(2, sh.c);
    float* y = c.f32(3, size);
    float* mean = c.f32(4, sh.n * sh.g);
    float* rstd = c.f32(5, sh.n * sh.g);
    const int64_t items = sh.n * sh.g;
    const double count = double(sh.s * sh.k);
    const int threads = int64_t(size) >= (1 << 18) ? omp_get_max_threads() : 1;
#pragma omp parallel num_threads(threads)
    {
      std::vector<float> scale(sh.k), shift(sh.k);
#pragma omp for schedule(static)
      for (int64_t item = 0; item < items; ++item) {
        const int64_t b = item / sh.g, g = item % sh.g;
        const float* px = x + b * sh.s * sh.c + g * sh.k;
        float* py = y + b * sh.s * sh.c + g * sh.k;
        double sum = 0;
        for (int64_t p = 0; p < sh.s; ++p) {
          const float* row = px + p * sh.c;
          float partial = 0;  // K ≤ a few hundred terms in float, then float64 across pixels
          for (int64_t j = 0; j < sh.k; ++j) partial += row[j];
          sum += partial;
        }
        const double mu = sum / count;
        double squares = 0;
        for (int64_t p = 0; p < sh.s; ++p) {
          const float* row = px + p * sh.c;
          const float m = float(mu);
          float partial = 0;
          for (int64_t j = 0; j < sh.k; ++j) {
            const float d = row[j] - m;
            partial += d * d;
          }
          squares += partial;
        }
        const double r = 1.0 / std::sqrt(squares / count + epsilon);
        mean[item] = float(mu);
        rstd[item] = float(r);
        for (int64_t j = 0; j < sh.k; ++j) {
          const double a = r * gamma[g * sh.k + j];
          scale[j] = float(a);
          shift[j] = float(beta[g * sh.k + j] - mu * a);
        }
        for (int64_t p = 0; p < sh.s; ++p) {
          const float* row = px + p * sh.c;
          float* out = py + p * sh.c;
          for (int64_t j = 0; j < sh.k; ++j) out[j] = row[j] * scale[j] + shift[j];
        }
      }
    }
  });
}

// groupNormBackward(x, dy, mean, rstd, gamma, dx, dGamma, dBeta, n, groups, channels):
// with x̂ = (x − μ)·r and M = S·K per (sample, group):  dβ_c = Σ dy,  dγ_c = Σ dy·x̂,
// dx = r·(dy·γ − mean(dy·γ) − x̂·mean(dy·γ·x̂))  (the statistics' dependence on x included).
napi_value GroupNormBackward(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call c(env, info);
    c.need(11);
    size_t size;
    const float* x = c.typed<float>(0, napi_float32_array, size);
    const GnShape sh = shapeOf(size, c.i32(8), c.i32(9), c.i32(10));
    const float* dy = c.f32(1, size);
    const float* mean = c.f32(2, sh.n * sh.g);
    const float* rstd = c.f32(3, sh.n * sh.g);
    const float* gamma = c.f32(4, sh.c);
    float* dx = c.f32(5, size);
    float* dGamma = c.f32(6, sh.c);
    float* dBeta = c.f32(7, sh.c);
    const int64_t items = sh.n * sh.g;
    const double count = double(sh.s * sh.k);
    const int threads = int64_t(size) >= (1 << 18) ? omp_get_max_threads() : 1;
    // Per-thread float64 partials of dγ and dβ, summed after the parallel region.
    std::vector<double> partial(size_t(threads) * 2 * sh.c, 0.0);
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      double* pGamma = partial.data() + size_t(t) * 2 * sh.c;
      double* pBeta = pGamma + sh.c;
      std::vector<double> chGamma(sh.k), chBeta(sh.k);
      for (int64_t item = items * t / nt; item < items * (t + 1) / nt; ++item) {
        const int64_t b = item / sh.g, g = item % sh.g;
        const int64_t offset = b * sh.s * sh.c + g * sh.k;
        const float* px = x + offset;
        const float* pdy = dy + offset;
        float* pdx = dx + offset;
        const float mu = mean[item], r = rstd[item];
        const float* gam = gamma + g * sh.k;
        std::fill(chGamma.begin(), chGamma.end(), 0.0);
        std::fill(chBeta.begin(), chBeta.end(), 0.0);
        double sumA = 0, sumB = 0;  // Σ dy·γ, Σ dy·γ·x̂
        for (int64_t p = 0; p < sh.s; ++p) {
          const float* row = px + p * sh.c;
          const float* drow = pdy + p * sh.c;
          float a = 0, bb = 0;
          for (int64_t j = 0; j < sh.k; ++j) {
            const float xhat = (row[j] - mu) * r;
            const float d = drow[j];
            chBeta[j] += d;
            chGamma[j] += d * xhat;
            a += d * gam[j];
            bb += d * gam[j] * xhat;
          }
          sumA += a;
          sumB += bb;
        }
        for (int64_t j = 0; j < sh.k; ++j) {
          pBeta[g * sh.k + j] += chBeta[j];
          pGamma[g * sh.k + j] += chGamma[j];
        }
        const float meanA = float(sumA / count), meanB = float(sumB / count);
        for (int64_t p = 0; p < sh.s; ++p) {
          const float* row = px + p * sh.c;
          const float* drow = pdy + p * sh.c;
          float* out = pdx + p * sh.c;
          for (int64_t j = 0; j < sh.k; ++j) {
            const float xhat = (row[j] - mu) * r;
            out[j] = r * (drow[j] * gam[j] - meanA - xhat * meanB);
          }
        }
      }
    }
    for (int64_t j = 0; j < sh.c; ++j) {
      double sg = 0, sb = 0;
      for (int t = 0; t < threads; ++t) {
        sg += partial[size_t(t) * 2 * sh.c + j];
        sb += partial[size_t(t) * 2 * sh.c + sh.c + j];
      }
      dGamma[j] = float(sg);
      dBeta[j] = float(sb);
    }
  });
}

}  // namespace

void registerGroupNorm(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"groupNormForward", nullptr, GroupNormForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"groupNormBackward", nullptr, GroupNormBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}

}  // namespace flashdiff
