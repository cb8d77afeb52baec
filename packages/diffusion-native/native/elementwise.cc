// Elementwise, reduction, normalisation and pooling kernels on float32, split over the OpenMP
// threads. Broadcasting is described by the caller (src/shapes.ts) as at most four collapsed output
// dimensions and, per operand, one element stride per dimension (0 where the operand is broadcast),
// so one loop serves same-shape, scalar, per-channel ([C] over [N,H,W,C]) and per-image-channel
// ([N,1,1,C]) operands alike.
#include "elementwise.h"

#include "napi_call.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace flashdiff {

namespace {

constexpr int64_t kParallelThreshold = 1 << 18;  // below this, threads cost more than they save

struct View4 {
  int64_t dims[4];
};

int64_t product(const int32_t* dims, int n) {
  int64_t p = 1;
  for (int i = 0; i < n; ++i) {
    if (dims[i] < 1) throw std::invalid_argument("non-positive dimension");
    p *= dims[i];
  }
  return p;
}

// Size an operand needs given its strides: 1 + Σ (dim−1)·stride.
int64_t spanOf(const int32_t* dims, const int32_t* strides) {
  int64_t s = 1;
  for (int i = 0; i < 4; ++i) {
    if (strides[i] < 0) throw std::invalid_argument("negative stride");
    s += int64_t(dims[i] - 1) * strides[i];
  }
  return s;
}

// ---- binary ----
enum BinaryOp { kAdd = 0, kSub, kMul, kDiv, kSquaredDifference, kMaximum, kMinimum };

template <int Op>
inline float applyBinary(float a, float b) {
  if constexpr (Op == kAdd) return a + b;
  if constexpr (Op == kSub) return a - b;
  if constexpr (Op == kMul) return a * b;
  if constexpr (Op == kDiv) return a / b;
  if constexpr (Op == kSquaredDifference) return (a - b) * (a - b);
  if constexpr (Op == kMaximum) return a > b || std::isnan(a) ? a : b;
  if constexpr (Op == kMinimum) return a < b || std::isnan(a) ? a : b;
  return 0.0f;
}

template <int Op>
void binaryRun(const float* a, const float* b, float* out, const int32_t* d, const int32_t* sa, const int32_t* sb) {
  const int64_t inner = d[3];
  const int64_t rows = int64_t(d[0]) * d[1] * d[2];
  const int64_t total = rows * inner;
  const int threads = total >= kParallelThreshold ? omp_get_max_threads() : 1;
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t begin = total * t / nt, end = total * (t + 1) / nt;
    int64_t i = begin;
    while (i < end) {
      const int64_t row = i / inner;
      const int64_t col = i % inner;
      const int64_t stop = std::min<int64_t>(end - i, inner - col);
      const int64_t i2 = row % d[2], i1 = (row / d[2]) % d[1], i0 = row / (int64_t(d[2]) * d[1]);
      const float* pa = a + i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + col * sa[3];
      const float* pb = b + i0 * sb[0] + i1 * sb[1] + i2 * sb[2] + col * sb[3];
      float* po = out + i;
      // The three inner-stride patterns get their own loops so the compiler vectorises them.
      if (sa[3] == 1 && sb[3] == 1) {
        for (int64_t j = 0; j < stop; ++j) po[j] = applyBinary<Op>(pa[j], pb[j]);
      } else if (sa[3] == 1 && sb[3] == 0) {
        const float vb = pb[0];
        for (int64_t j = 0; j < stop; ++j) po[j] = applyBinary<Op>(pa[j], vb);
      } else if (sa[3] == 0 && sb[3] == 1) {
        const float va = pa[0];
        for (int64_t j = 0; j < stop; ++j) po[j] = applyBinary<Op>(va, pb[j]);
      } else {
        for (int64_t j = 0; j < stop; ++j) po[j] = applyBinary<Op>(pa[j * sa[3]], pb[j * sb[3]]);
      }
      i += stop;
    }
  }
}

// binary(op, a, b, out, dims[4], aStrides[4], bStrides[4])
napi_value Binary(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call c(env, info);
    c.need(7);
    const int op = c.i32(0);
    const int32_t* d = c.i32s(4, 4);
    const int32_t* sa = c.i32s(5, 4);
    const int32_t* sb = c.i32s(6, 4);
    const int64_t total = product(d, 4);
    const float* a = c.f32(1, spanOf(d, sa));
    const float* b = c.f32(2, spanOf(d, sb));
    float* out = c.f32(3, total);
    switch (op) {
      case kAdd: binaryRun<kAdd>(a, b, out, d, sa, sb); break;
      case kSub: binaryRun<kSub>(a, b, out, d, sa, sb); break;
      case kMul: binaryRun<kMul>(a, b, out, d, sa, sb); break;
      case kDiv: binaryRun<kDiv>(a, b, out, d, sa, sb); break;
      case kSquaredDifference: binaryRun<kSquaredDifference>(a, b, out, d, sa, sb); break;
      case kMaximum: binaryRun<kMaximum>(a, b, out, d, sa, sb); break;
      case kMinimum: binaryRun<kMinimum>(a, b, out, d, sa, sb); break;
      default: throw std::invalid_argument("unknown binary op");
    }
  });
}

// ---- vectorisable exp and erf ----
// libm's expf/erff are scalar calls that stop GCC from vectorising the loops; these branch-free
// versions compile to AVX2 code. fastExp: e^x = 2^n·e^r with n = round(x/ln2), r = x − n·ln2
// (ln2 split in two for accuracy), e^r by its degree-6 Taylor polynomial (|r| ≤ ln2/2, relative
// error < 2e-7), 2^n built in the exponent bits.
inline float fastExp(float input) {
  const float x = std::min(88.0f, std::max(-87.0f, input));
  // Round to nearest with the 1.5·2²³ trick (vectorises where nearbyint may not).
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (x - n * 0.693145751953125f) - n * 1.428606765330187045e-06f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (int32_t(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return input != input ? input : p * scale;  // NaN stays NaN
}

// erf: |x| < 0.5 by its Maclaurin series 2/√π·(x − x³/3 + x⁵/10 − x⁷/42 + x⁹/216 − x¹¹/1320) (error < 2e-8);
// otherwise Abramowitz & Stegun 7.1.26, 1 − (a₁t + … + a₅t⁵)·e^(−x²), t = 1/(1 + p|x|), absolute
// error ≤ 1.5e-7 (the formula tfjs's cpu backend uses everywhere).
inline float fastErf(float x) {
  const float ax = std::fabs(x);
  const float x2 = x * x;
  const float s = 1.0f + x2 * (-1.0f / 3.0f + x2 * (1.0f / 10.0f + x2 * (-1.0f / 42.0f + x2 * (1.0f / 216.0f + x2 * (-1.0f / 1320.0f)))));
  const float small = 1.12837916709551257f * x * s;
  const float t = 1.0f / (1.0f + 0.3275911f * ax);
  const float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
  const float large = std::copysign(1.0f - poly * fastExp(-x2), x);
  return ax < 0.5f ? small : large;
}

// ---- unary ----
enum UnaryOp { kErf = 0, kExp, kSqrt, kRsqrt, kRelu, kNeg, kSquare, kSigmoid, kTanh, kAbs, kLog, kGelu, kReciprocal, kSilu };

template <int Op>
inline float applyUnary(float x) {
  if constexpr (Op == kErf) return fastErf(x);
  if constexpr (Op == kExp) return fastExp(x);
  if constexpr (Op == kSqrt) return std::sqrt(x);
  if constexpr (Op == kRsqrt) return 1.0f / std::sqrt(x);
  if constexpr (Op == kRelu) return x > 0.0f ? x : (std::isnan(x) ? x : 0.0f);
  if constexpr (Op == kNeg) return -x;
  if constexpr (Op == kSquare) return x * x;
  if constexpr (Op == kSigmoid) return 1.0f / (1.0f + fastExp(-x));
  if constexpr (Op == kTanh) return std::tanh(x);
  if constexpr (Op == kAbs) return std::fabs(x);
  if constexpr (Op == kLog) return std::log(x);
  // GELU, exact form (Hendrycks & Gimpel 2016): x·Φ(x) = ½·x·(1 + erf(x/√2)).
  if constexpr (Op == kGelu) return 0.5f * x * (1.0f + fastErf(x * 0.70710678118654752f));
  if constexpr (Op == kReciprocal) return 1.0f / x;
  // SiLU / swish (Elfwing et al. 2018; torch.nn.SiLU): x·σ(x), the UNet's and VAE's activation.
  if constexpr (Op == kSilu) return x / (1.0f + fastExp(-x));
  return 0.0f;
}

template <int Op>
void unaryRun(const float* x, float* out, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) out[i] = applyUnary<Op>(x[i]);
}

// unary(op, x, out)
napi_value Unary(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call c(env, info);
    c.need(3);
    size_t n;
    const float* x = c.typed<float>(1, napi_float32_array, n);
    float* out = c.f32(2, n);
    const int64_t len = int64_t(n);
    switch (c.i32(0)) {
      case kErf: unaryRun<kErf>(x, out, len); break;
      case kExp: unaryRun<kExp>(x, out, len); break;
      case kSqrt: unaryRun<kSqrt>(x, out, len); break;
      case kRsqrt: unaryRun<kRsqrt>(x, out, len); break;
      case kRelu: unaryRun<kRelu>(x, out, len); break;
      case kNeg: unaryRun<kNeg>(x, out, len); break;
      case kSquare: unaryRun<kSquare>(x, out, len); break;
      case kSigmoid: unaryRun<kSigmoid>(x, out, len); break;
      case kTanh: unaryRun<kTanh>(x, out, len); break;
      case kAbs: unaryRun<kAbs>(x, out, len); break;
      case kLog: unaryRun<kLog>(x, out, len); break;
      case kGelu: unaryRun<kGelu>(x, out, len); break;
      case kReciprocal: unaryRun<kReciprocal>(x, out, len); break;
      case kSilu: unaryRun<kSilu>(x, out, len); break;
      default: throw std::invalid_argument("unknown unary op");
    }
  });
}

// unaryGrad(op, x, dy, out): 0 = relu' (dy where x > 0), 1 = gelu' = Φ(x) + x·φ(x),
// 2 = erf' = 2/√π·exp(−x²), 3 = silu' = σ(x)·(1 + x·(1 − σ(x))).
napi_value UnaryGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call c(env, info);
    c.need(4);
    size_t n;
    const float* x = c.typed<float>(1, napi_float32_array, n);
    const float* dy = c.f32(2, n);
    float* out = c.f32(3, n);
    const int op = c.i32(0);
    const int64_t len = int64_t(n);
    if (op == 0) {
#pragma omp parallel for schedule(static) if (len >= kParallelThreshold)
      for (int64_t i = 0; i < len; ++i) out[i] = x[i] > 0.0f ? dy[i] : 0.0f;
    } else if (op == 1) {
      const float invSqrt2 = 0.70710678118654752f, invSqrt2Pi = 0.39894228040143268f;
#pragma omp parallel for schedule(static) if (len >= kParallelThreshold)
      for (int64_t i = 0; i < len; ++i) {
        const float v = x[i];
        out[i] = dy[i] * (0.5f * (1.0f + fastErf(v * invSqrt2)) + v * invSqrt2Pi * fastExp(-0.5f * v * v));
      }
    } else if (op == 2) {
      const float twoOverSqrtPi = 1.12837916709551257f;
#pragma omp parallel for schedule(static) if (len >= kParallelThreshold)
      for (int64_t i = 0; i < len; ++i) out[i] = dy[i] * twoOverSqrtPi * fastExp(-x[i] * x[i]);
    } else if (op == 3) {
#pragma omp parallel for schedule(static) if (len >= kParallelThreshold)
      for (int64_t i = 0; i < len; ++i) {
        const float v = x[i];
        const float s = 1.0f / (1.0f + fastExp(-v));
        out[i] = dy[i] * s * (1.0f + v * (1.0f - s));
      }
    } else {
      throw std::invalid_argument("unknown unary gradient op");
    }
  });
}

// ---- reductions ----
// reduce(op, x, out, dims[4], reduceFlags[4], scale): reduces the flagged dims of a 4-D view;
// op 0 = sum (times scale: 1 for Sum, 1/count for Mean), 1 = max, 2 = min. Sums accumulate in
// double so a mean over 25,600 pixels keeps float32 accuracy.
napi_value Reduce(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call c(env, info);
    c.need(6);
    const int op = c.i32(0);
    const int32_t* d = c.i32s(3, 4);
    const int32_t* r = c.i32s(4, 4);
    const double scale = c.f64(5);
    const int64_t total = product(d, 4);
    const float* x = c.f32(1, total);
    int64_t outSize = 1, outStride[4];
    for (int i = 3; i >= 0; --i) {
      outStride[i] = r[i] ? 0 : outSize;
      if (!r[i]) outSize *= d[i];
    }
    float* out = c.f32(2, outSize);
    const double init = op == 0 ? 0.0 : (op == 1 ? -INFINITY : INFINITY);
    const int threads = total >= kParallelThreshold ? omp_get_max_threads() : 1;
    std::vector<double> partial(size_t(outSize) * threads, init);
    const int64_t rows = int64_t(d[0]) * d[1] * d[2];
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      double* acc = partial.data() + size_t(t) * outSize;
      for (int64_t row = rows * t / nt; row < rows * (t + 1) / nt; ++row) {
        const int64_t i2 = row % d[2], i1 = (row / d[2]) % d[1], i0 = row / (int64_t(d[2]) * d[1]);
        const float* px = x + row * d[3];
        double* pa = acc + i0 * outStride[0] + i1 * outStride[1] + i2 * outStride[2];
        if (r[3]) {
          double s = pa[0];
          if (op == 0) {
            for (int j = 0; j < d[3]; ++j) s += px[j];
          } else if (op == 1) {
            for (int j = 0; j < d[3]; ++j) s = px[j] > s || std::isnan(px[j]) ? px[j] : s;
          } else {
            for (int j = 0; j < d[3]; ++j) s = px[j] < s || std::isnan(px[j]) ? px[j] : s;
          }
          pa[0] = s;
        } else if (op == 0) {
          for (int j = 0; j < d[3]; ++j) pa[j] += px[j];
        } else if (op == 1) {
          for (int j = 0; j < d[3]; ++j) pa[j] = px[j] > pa[j] || std::isnan(px[j]) ? px[j] : pa[j];
        } else {
          for (int j = 0; j < d[3]; ++j) pa[j] = px[j] < pa[j] || std::isnan(px[j]) ? px[j] : pa[j];
        }
      }
    }
    for (int64_t o = 0; o < outSize; ++o) {
      double v = partial[o];
      for (int t = 1; t < threads; ++t) {
        const double w = partial[size_t(t) * outSize + o];
        if (op == 0) v += w;
        else if (op == 1) v = w > v || std::isnan(w) ? w : v;
        else v = w < v || std::isnan(w) ? w : v;
      }
      out[o] = float(op == 0 ? v * scale : v);
    }
  });
}

// channelAffine(x, scale, shift, out, channels): out = x·scale[c] + shift[c] — batch norm's
// inference form once the caller folded mean, variance, γ and β into scale and shift.
napi_value ChannelAffine(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call c(env, info);
    c.need(5);
    const int channels = c.i32(4);
    if (channels < 1) throw std::invalid_argument("channels must be positive");
    size_t n;
    const float* x = c.typed<float>(0, napi_float32_array, n);
    if (n % channels != 0) throw std::invalid_argument("size is not a multiple of channels");
    const float* scale = c.f32(1, channels);
    const float* shift = c.f32(2, channels);
    float* out = c.f32(3, n);
    const int64_t rows = int64_t(n) / channels;
#pragma omp parallel for schedule(static) if (int64_t(n) >= kParallelThreshold)
    for (int64_t row = 0; row < rows; ++row) {
      const float* px = x + row * channels;
      float* po = out + row * channels;
      for (int j = 0; j < channels; ++j) po[j] = px[j] * scale[j] + shift[j];
    }
  });
}

// ---- softmax over the last axis ----
// softmax(x, out, n): each row of n values, e^(x − max)/Σ e^(x − max) (the max shift keeps e^x
// finite; the sum is float64). Rows are split over the threads.
napi_value Softmax(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call c(env, info);
    c.need(3);
    size_t size;
    const float* x = c.typed<float>(0, napi_float32_array, size);
    float* out = c.f32(1, size);
    const int64_t n = c.i32(2);
    if (n < 1 || int64_t(size) % n != 0) throw std::invalid_argument("softmax: size is not a multiple of the row length");
    const int64_t rows = int64_t(size) / n;
#pragma omp parallel for schedule(static) if (int64_t(size) >= kParallelThreshold)
    for (int64_t r = 0; r < rows; ++r) {
      const float* px = x + r * n;
      float* po = out + r * n;
      float max = px[0];
      for (int64_t j = 1; j < n; ++j) max = std::max(max, px[j]);
      double sum = 0;
      float partial = 0;
#pragma omp simd reduction(+ : partial)
      for (int64_t j = 0; j < n; ++j) {
        po[j] = fastExp(px[j] - max);
        partial += po[j];
      }
      sum += partial;
      const float inv = float(1.0 / sum);
      for (int64_t j = 0; j < n; ++j) po[j] *= inv;
    }
  });
}

// ---- training-mode batch norm (Ioffe & Szegedy 2015), channels last ----
// Per-channel sums over the rows [M = N·H·W, C], split over threads. Each thread sums blocks of 32
// rows in float (vectorised along the channels: float64 accumulation per element halved the kernel's
// speed) and adds each block's sums into private float64 partials, so rounding grows with 32, not M.
template <typename RowFn>
std::vector<double> channelSums(int64_t rows, int channels, int sumsPerChannel, RowFn&& row) {
  constexpr int64_t kBlock = 32;
  const int threads = rows * channels >= kParallelThreshold ? omp_get_max_threads() : 1;
  const size_t width = size_t(sumsPerChannel) * channels;
  std::vector<double> partial(size_t(threads) * width, 0.0);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    double* acc = partial.data() + size_t(t) * width;
    std::vector<float> block(width);
    const int64_t end = rows * (t + 1) / nt;
    for (int64_t r = rows * t / nt; r < end; r += kBlock) {
      std::fill(block.begin(), block.end(), 0.0f);
      const int64_t stop = std::min(end, r + kBlock);
      for (int64_t q = r; q < stop; ++q) row(q, block.data());
      for (size_t i = 0; i < width; ++i) acc[i] += block[i];
    }
  }
  std::vector<double> total(width, 0.0);
  for (int t = 0; t < threads; ++t) {
    for (size_t i = 0; i < total.size(); ++i) total[i] += partial[size_t(t) * width + i];
  }
  return total;
}

// batchNormForward(x, gamma, beta, y, mean, variance, channels, epsilon): batch statistics
// (biased variance, as the normalisation uses), then y = (x − μ)/√(σ² + ε)·γ + β.
// The variance is E[(x − μ)²] computed from shifted sums around the first row, so it stays
// accurate when |μ| ≫ σ.
napi_value BatchNormForward(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call c(env, info);
    c.need(8);
    const int channels = c.i32(6);
    const double epsilon = c.f64(7);
    if (channels < 1) throw std::invalid_argument("channels must be positive");
    size_t n;
    const float* x = c.typed<float>(0, napi_float32_array, n);
    if (n == 0 || n % channels != 0) throw std::invalid_argument("size is not a positive multiple of channels");
    const float* gamma = c.f32(1, channels);
    const float* beta = c.f32(2, channels);
    float* y = c.f32(3, n);
    float* mean = c.f32(4, channels);
    float* variance = c.f32(5, channels);
    const int64_t rows = int64_t(n) / channels;
    const float* shift = x;  // first row
    auto sums = channelSums(rows, channels, 2, [&](int64_t r, float* acc) {
      const float* px = x + r * channels;
      for (int j = 0; j < channels; ++j) {
        const float d = px[j] - shift[j];
        acc[j] += d;
        acc[channels + j] += d * d;
      }
    });
    std::vector<float> scale(channels), offset(channels);
    for (int j = 0; j < channels; ++j) {
      const double m = sums[j] / rows;
      const double v = std::max(0.0, sums[channels + j] / rows - m * m);
      mean[j] = float(m + shift[j]);
      variance[j] = float(v);
      const double k = gamma[j] / std::sqrt(v + epsilon);
      scale[j] = float(k);
      offset[j] = float(beta[j] - (m + shift[j]) * k);
    }
#pragma omp parallel for schedule(static) if (int64_t(n) >= kParallelThreshold)
    for (int64_t r = 0; r < rows; ++r) {
      const float* px = x + r * channels;
      float* py = y + r * channels;
      for (int j = 0; j < channels; ++j) py[j] = px[j] * scale[j] + offset[j];
    }
  });
}

// batchNormBackward(x, dy, mean, variance, gamma, dx, dGamma, dBeta, channels, epsilon):
// with x̂ = (x − μ)·s, s = 1/√(σ² + ε), M rows:  dβ = Σ dy,  dγ = Σ dy·x̂,
// dx = γ·s·(dy − dβ/M − x̂·dγ/M)  (batch statistics depend on x, so their gradient is included).
napi_value BatchNormBackward(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call c(env, info);
    c.need(10);
    const int channels = c.i32(8);
    const double epsilon = c.f64(9);
    if (channels < 1) throw std::invalid_argument("channels must be positive");
    size_t n;
    const float* x = c.typed<float>(0, napi_float32_array, n);
    if (n == 0 || n % channels != 0) throw std::invalid_argument("size is not a positive multiple of channels");
    const float* dy = c.f32(1, n);
    const float* mean = c.f32(2, channels);
    const float* variance = c.f32(3, channels);
    const float* gamma = c.f32(4, channels);
    float* dx = c.f32(5, n);
    float* dGamma = c.f32(6, channels);
    float* dBeta = c.f32(7, channels);
    const int64_t rows = int64_t(n) / channels;
    std::vector<float> invStd(channels);
    for (int j = 0; j < channels; ++j) invStd[j] = float(1.0 / std::sqrt(double(variance[j]) + epsilon));
    auto sums = channelSums(rows, channels, 2, [&](int64_t r, float* acc) {
      const float* px = x + r * channels;
      const float* pdy = dy + r * channels;
      for (int j = 0; j < channels; ++j) {
        acc[j] += pdy[j];
        acc[channels + j] += pdy[j] * ((px[j] - mean[j]) * invStd[j]);
      }
    });
    std::vector<float> a(channels), b(channels), k(channels);
    for (int j = 0; j < channels; ++j) {
      dBeta[j] = float(sums[j]);
      dGamma[j] = float(sums[channels + j]);
      k[j] = gamma[j] * invStd[j];
      a[j] = float(sums[j] / rows);
      b[j] = float(sums[channels + j] / rows);
    }
#pragma omp parallel for schedule(static) if (int64_t(n) >= kParallelThreshold)
    for (int64_t r = 0; r < rows; ++r) {
      const float* px = x + r * channels;
      const float* pdy = dy + r * channels;
      float* pdx = dx + r * channels;
      for (int j = 0; j < channels; ++j) {
        const float xhat = (px[j] - mean[j]) * invStd[j];
        pdx[j] = k[j] * (pdy[j] - a[j] - xhat * b[j]);
      }
    }
  });
}

// ---- pooling (NHWC, 'valid' padding; geometry laid out as for convolutions, kernel kH×kW) ----
struct PoolGeom {
  int batch, inH, inW, channels, kH, kW, outH, outW, strideH, strideW;
};
PoolGeom poolGeom(const int32_t* v) {
  PoolGeom g{v[0], v[1], v[2], v[3], v[4], v[5], v[7], v[8], v[9], v[10]};
  if (v[6] != v[3]) throw std::invalid_argument("pooling keeps the channel count");
  if (v[11] || v[12] || v[13] || v[14]) throw std::invalid_argument("pooling supports only valid padding");
  if ((g.outH - 1) * g.strideH + g.kH > g.inH || (g.outW - 1) * g.strideW + g.kW > g.inW)
    throw std::invalid_argument("pooling window leaves the input");
  return g;
}

// pool2d(op, x, y, geom): op 0 = max, 1 = average.
napi_value Pool2d(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call c(env, info);
    c.need(4);
    const int op = c.i32(0);
    const PoolGeom g = poolGeom(c.i32s(3, 17));
    const float* x = c.f32(1, size_t(g.batch) * g.inH * g.inW * g.channels);
    float* y = c.f32(2, size_t(g.batch) * g.outH * g.outW * g.channels);
    const float inv = 1.0f / float(g.kH * g.kW);
    const int64_t rows = int64_t(g.batch) * g.outH * g.outW;
#pragma omp parallel for schedule(static) if (rows * g.channels >= kParallelThreshold)
    for (int64_t row = 0; row < rows; ++row) {
      const int n = int(row / (int64_t(g.outH) * g.outW)), oy = int((row / g.outW) % g.outH), ox = int(row % g.outW);
      float* py = y + row * g.channels;
      for (int ch = 0; ch < g.channels; ++ch) py[ch] = op == 0 ? -INFINITY : 0.0f;
      for (int ky = 0; ky < g.kH; ++ky) {
        for (int kx = 0; kx < g.kW; ++kx) {
          const float* px = x + ((int64_t(n) * g.inH + oy * g.strideH + ky) * g.inW + ox * g.strideW + kx) * g.channels;
          if (op == 0) {
            for (int ch = 0; ch < g.channels; ++ch) py[ch] = px[ch] > py[ch] || std::isnan(px[ch]) ? px[ch] : py[ch];
          } else {
            for (int ch = 0; ch < g.channels; ++ch) py[ch] += px[ch];
          }
        }
      }
      if (op == 1) {
        for (int ch = 0; ch < g.channels; ++ch) py[ch] *= inv;
      }
    }
  });
}

// pool2dGrad(op, x, dy, dx, geom): max → dy goes to the first maximum of each window (row-major
// window order, as tfjs's cpu backend); average → dy/(kH·kW) to every window pixel.
napi_value Pool2dGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call c(env, info);
    c.need(5);
    const int op = c.i32(0);
    const PoolGeom g = poolGeom(c.i32s(4, 17));
    const size_t inSize = size_t(g.batch) * g.inH * g.inW * g.channels;
    const float* x = op == 0 ? c.f32(1, inSize) : nullptr;
    const float* dy = c.f32(2, size_t(g.batch) * g.outH * g.outW * g.channels);
    float* dx = c.f32(3, inSize);
    const float inv = 1.0f / float(g.kH * g.kW);
    // Parallel over images: windows of one image may overlap, windows of two never do.
#pragma omp parallel for schedule(static) if (inSize >= size_t(kParallelThreshold))
    for (int n = 0; n < g.batch; ++n) {
      std::fill(dx + size_t(n) * g.inH * g.inW * g.channels, dx + size_t(n + 1) * g.inH * g.inW * g.channels, 0.0f);
      for (int oy = 0; oy < g.outH; ++oy) {
        for (int ox = 0; ox < g.outW; ++ox) {
          const float* pdy = dy + ((int64_t(n) * g.outH + oy) * g.outW + ox) * g.channels;
          for (int ch = 0; ch < g.channels; ++ch) {
            if (op == 0) {
              float best = -INFINITY;
              int64_t bestAt = -1;
              for (int ky = 0; ky < g.kH; ++ky) {
                for (int kx = 0; kx < g.kW; ++kx) {
                  const int64_t at = ((int64_t(n) * g.inH + oy * g.strideH + ky) * g.inW + ox * g.strideW + kx) * g.channels + ch;
                  if (bestAt < 0 || x[at] > best) {
                    best = x[at];
                    bestAt = at;
                  }
                }
              }
              dx[bestAt] += pdy[ch];
            } else {
              for (int ky = 0; ky < g.kH; ++ky) {
                for (int kx = 0; kx < g.kW; ++kx) {
                  dx[((int64_t(n) * g.inH + oy * g.strideH + ky) * g.inW + ox * g.strideW + kx) * g.channels + ch] += pdy[ch] * inv;
                }
              }
            }
          }
        }
      }
    }
  });
}

}  // namespace

void registerElementwise(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"binary", nullptr, Binary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unary", nullptr, Unary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unaryGrad", nullptr, UnaryGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reduce", nullptr, Reduce, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"channelAffine", nullptr, ChannelAffine, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmax", nullptr, Softmax, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNormForward", nullptr, BatchNormForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNormBackward", nullptr, BatchNormBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"pool2d", nullptr, Pool2d, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"pool2dGrad", nullptr, Pool2dGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}

}  // namespace flashdiff
