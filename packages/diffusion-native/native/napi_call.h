// Argument unpacking shared by the addon's elementwise, layout and normalisation entry points
// (addon.cc keeps its own Args for the convolution ones): every typed array is checked for type and
// length and every number for type, so a wrong call throws a JS TypeError instead of reading out of
// bounds.
#pragma once
#include <node_api.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace flashdiff {

struct Call {
  static constexpr size_t kMaxArgs = 16;
  napi_env env;
  size_t count = kMaxArgs;
  napi_value v[kMaxArgs];
  Call(napi_env e, napi_callback_info info) : env(e) { napi_get_cb_info(env, info, &count, v, nullptr, nullptr); }
  void need(size_t n) const {
    if (count < n) throw std::invalid_argument("expected " + std::to_string(n) + " arguments");
  }
  template <typename T>
  T* typed(size_t i, napi_typedarray_type want, size_t& length) const {
    bool isTyped = false;
    napi_is_typedarray(env, v[i], &isTyped);
    if (!isTyped) throw std::invalid_argument("argument " + std::to_string(i) + " must be a typed array");
    napi_typedarray_type type;
    void* data;
    napi_get_typedarray_info(env, v[i], &type, &length, &data, nullptr, nullptr);
    if (type != want) throw std::invalid_argument("argument " + std::to_string(i) + " has the wrong typed-array type");
    return static_cast<T*>(data);
  }
  float* f32(size_t i, size_t minLength) const {
    size_t length;
    float* p = typed<float>(i, napi_float32_array, length);
    if (length < minLength) throw std::invalid_argument("argument " + std::to_string(i) + " is too short");
    return p;
  }
  const int32_t* i32s(size_t i, size_t n) const {
    size_t length;
    const int32_t* p = typed<int32_t>(i, napi_int32_array, length);
    if (length < n) throw std::invalid_argument("argument " + std::to_string(i) + " is too short");
    return p;
  }
  int32_t i32(size_t i) const {
    int32_t x;
    if (napi_get_value_int32(env, v[i], &x) != napi_ok) throw std::invalid_argument("argument " + std::to_string(i) + " must be a number");
    return x;
  }
  double f64(size_t i) const {
    double x;
    if (napi_get_value_double(env, v[i], &x) != napi_ok) throw std::invalid_argument("argument " + std::to_string(i) + " must be a number");
    return x;
  }
};

template <typename Fn>
napi_value guarded(napi_env env, Fn&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    napi_throw_type_error(env, "ERR_FLASHDIFF_NATIVE_ARGUMENT", e.what());
  }
  return nullptr;
}

}  // namespace flashdiff
