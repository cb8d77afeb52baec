// The optimiser's per-parameter arithmetic in one pass each: Adam's moment and parameter update,
// the squared L2 norm of a gradient (for global-norm clipping) and the EMA of weights. Upstream
// counterpart: PyTorch's fused/foreach Adam (torch/optim/adam.py _multi_tensor_adam,
// aten/src/ATen/native/cpu/FusedAdamKernel.cpp). Each computes exactly, in float32 with one
// rounding per operation in the same order, what the TensorEngine composite of
// packages/diffusion/src/tensor/tfjs-engine.ts (adamUpdate, emaUpdate) computes with one tfjs kernel
// per operation, so a training run is bit for bit the same with or without them. That is why this
// file turns floating-point contraction off: GCC would otherwise fuse a·b + c into one FMA, which
// rounds once where the composite rounds twice.
#pragma GCC optimize("fp-contract=off")

#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "elementwise.h"
#include "napi_call.h"

namespace flashdiff {

namespace {

// adamUpdate(param, m, v, grad, outParam, outM, outV, gradScale, beta1, oneMinusBeta1, beta2,
//            oneMinusBeta2, stepSize, inverseCorrection2, epsilon)
// Kingma & Ba 2015, Algorithm 1, with the bias corrections folded into stepSize = lr/(1 − β₁ᵗ) and
// inverseCorrection2 = 1/(1 − β₂ᵗ):
//   g ← grad·gradScale (skipped when gradScale is 1, as the composite skips it)
//   m' = m·β₁ + g·(1 − β₁);  v' = v·β₂ + g²·(1 − β₂)
//   θ' = θ − (m'·stepSize) / (√(v'·inverseCorrection2) + ε)
// Every scalar is rounded to float32 first, as a tfjs scalar operand is.
napi_value AdamUpdate(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call c(env, info);
    c.need(15);
    size_t n;
    const float* param = c.typed<float>(0, napi_float32_array, n);
    const float* m = c.f32(1, n);
    const float* v = c.f32(2, n);
    const float* grad = c.f32(3, n);
    float* outParam = c.f32(4, n);
    float* outM = c.f32(5, n);
    float* outV = c.f32(6, n);
    const double scaleArg = c.f64(7);
    const bool scaled = scaleArg != 1.0;
    const float scale = float(scaleArg), beta1 = float(c.f64(8)), oneMinusBeta1 = float(c.f64(9));
    const float beta2 = float(c.f64(10)), oneMinusBeta2 = float(c.f64(11));
    const float stepSize = float(c.f64(12)), inverseCorrection2 = float(c.f64(13)), epsilon = float(c.f64(14));
    for (size_t i = 0; i < n; ++i) {
      const float g = scaled ? grad[i] * scale : grad[i];
      const float m1 = m[i] * beta1 + g * oneMinusBeta1;
      const float g2 = g * g;
      const float v1 = v[i] * beta2 + g2 * oneMinusBeta2;
      const float update = (m1 * stepSize) / (std::sqrt(v1 * inverseCorrection2) + epsilon);
      outM[i] = m1;
      outV[i] = v1;
      outParam[i] = param[i] - update;
    }
  });
}

// squareSum(x, out): out[0] = Σ x² as the composite sum(square(x)) gives it: each square rounded
// to float32, summed in float64 in order (the addon's Sum of a tensor under its parallel threshold),
// the total rounded to float32.
napi_value SquareSum(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call c(env, info);
    c.need(2);
    size_t n;
    const float* x = c.typed<float>(0, napi_float32_array, n);
    float* out = c.f32(1, 1);
    double sum = 0;
    for (size_t i = 0; i < n; ++i) {
      const float square = x[i] * x[i];
      sum += square;
    }
    out[0] = float(sum);
  });
}

// emaUpdate(target, source, out, decay, oneMinusDecay): out = target·d + source·(1 − d)
// (Polyak averaging), each product rounded before the sum as the composite's.
napi_value EmaUpdate(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call c(env, info);
    c.need(5);
    size_t n;
    const float* target = c.typed<float>(0, napi_float32_array, n);
    const float* source = c.f32(1, n);
    float* out = c.f32(2, n);
    const float decay = float(c.f64(3)), oneMinusDecay = float(c.f64(4));
    for (size_t i = 0; i < n; ++i) out[i] = target[i] * decay + source[i] * oneMinusDecay;
  });
}

}  // namespace

void registerOptimizer(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"adamUpdate", nullptr, AdamUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"squareSum", nullptr, SquareSum, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"emaUpdate", nullptr, EmaUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}

}  // namespace flashdiff
