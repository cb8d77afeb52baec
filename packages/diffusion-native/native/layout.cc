// Layout kernels of the native tfjs backend: one strided copy that serves Slice, SplitV, Concat
// (each input written into its place), Transpose and Pad's interior, and relu's gradient mask (tfjs's
// Step). tfjs-backend-cpu does these in JS with per-element index arithmetic; in the ContextUnet
// training step they were ~60 ms of single-threaded work (concat's gradient slices 64-channel runs
// out of [N,H,W,128] tensors; the transposed convolutions reshuffle pixels).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "elementwise.h"
#include "napi_call.h"

namespace flashdiff {

namespace {

constexpr int kMaxRank = 8;
constexpr int64_t kParallelThreshold = 1 << 18;  // elements; below this one thread is faster

// copyStrided(src, srcOffset, dst, dstOffset, dims, srcStrides, dstStrides):
// dst[dstOffset + Σ i_d·dstStride_d] = src[srcOffset + Σ i_d·srcStride_d] for every index i < dims.
// Strides are in elements and non-negative; the caller merges contiguous dimensions first, so the
// innermost one is usually a contiguous run copied with memcpy.
napi_value CopyStrided(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call c(env, info);
    c.need(7);
    size_t srcLength, dstLength, rank, rank2, rank3;
    const float* src = c.typed<float>(0, napi_float32_array, srcLength);
    const int64_t srcOffset = c.i32(1);
    float* dst = c.typed<float>(2, napi_float32_array, dstLength);
    const int64_t dstOffset = c.i32(3);
    const int32_t* dims = c.typed<int32_t>(4, napi_int32_array, rank);
    const int32_t* srcStrides = c.typed<int32_t>(5, napi_int32_array, rank2);
    const int32_t* dstStrides = c.typed<int32_t>(6, napi_int32_array, rank3);
    if (rank < 1 || rank > size_t(kMaxRank) || rank2 != rank || rank3 != rank) throw std::invalid_argument("copyStrided: rank must be 1..8, equal for dims and strides");
    if (srcOffset < 0 || dstOffset < 0) throw std::invalid_argument("copyStrided: negative offset");
    int64_t total = 1, srcLast = srcOffset, dstLast = dstOffset;
    for (size_t d = 0; d < rank; ++d) {
      if (dims[d] < 0 || srcStrides[d] < 0 || dstStrides[d] < 0) throw std::invalid_argument("copyStrided: negative size or stride");
      total *= dims[d];
      srcLast += int64_t(dims[d] - 1) * srcStrides[d];
      dstLast += int64_t(dims[d] - 1) * dstStrides[d];
    }
    if (total == 0) return;
    if (srcLast >= int64_t(srcLength) || dstLast >= int64_t(dstLength)) throw std::invalid_argument("copyStrided: region leaves an array");
    const int r = int(rank);
    const int64_t inner = dims[r - 1];
    const int64_t si = srcStrides[r - 1], di = dstStrides[r - 1];
    const int64_t outer = total / inner;
    const int threads = total >= kParallelThreshold ? omp_get_max_threads() : 1;
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      const int64_t begin = outer * t / nt, end = outer * (t + 1) / nt;
      // Odometer over the outer dimensions, started at `begin`.
      int64_t index[kMaxRank] = {0};
      int64_t rest = begin, sOff = srcOffset, dOff = dstOffset;
      for (int d = r - 2; d >= 0; --d) {
        index[d] = rest % dims[d];
        rest /= dims[d];
        sOff += index[d] * srcStrides[d];
        dOff += index[d] * dstStrides[d];
      }
      for (int64_t o = begin; o < end; ++o) {
        const float* ps = src + sOff;
        float* pd = dst + dOff;
        if (si == 1 && di == 1) {
          std::memcpy(pd, ps, size_t(inner) * sizeof(float));
        } else {
          for (int64_t k = 0; k < inner; ++k) pd[k * di] = ps[k * si];
        }
        for (int d = r - 2; d >= 0; --d) {
          sOff += srcStrides[d];
          dOff += dstStrides[d];
          if (++index[d] < dims[d]) break;
          sOff -= int64_t(dims[d]) * srcStrides[d];
          dOff -= int64_t(dims[d]) * dstStrides[d];
          index[d] = 0;
        }
      }
    }
  });
}

// step(x, out, alpha): tfjs's Step, 1 where x > 0, alpha elsewhere, NaN stays NaN.
napi_value Step(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call c(env, info);
    c.need(3);
    size_t n;
    const float* x = c.typed<float>(0, napi_float32_array, n);
    float* out = c.f32(1, n);
    const float alpha = float(c.f64(2));
    const int64_t len = int64_t(n);
#pragma omp parallel for simd schedule(static) if (len >= kParallelThreshold)
    for (int64_t i = 0; i < len; ++i) {
      const float v = x[i];
      out[i] = v > 0.0f ? 1.0f : (v != v ? v : alpha);
    }
  });
}

}  // namespace

void registerLayout(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"copyStrided", nullptr, CopyStrided, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"step", nullptr, Step, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}

}  // namespace flashdiff
