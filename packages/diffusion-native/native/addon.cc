// N-API bindings of the native tfjs backend. Every entry point is synchronous and writes into a
// Float32Array the JS side allocated (tfjs then owns it as the new tensor's values), so no memory
// crosses the boundary by copy. Arguments are checked here: a wrong type or a short array throws a
// JS TypeError/RangeError instead of reading out of bounds.
#include <node_api.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <omp.h>

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>

#include "elementwise.h"
#include "kernels.h"

extern "C" void openblas_set_num_threads(int);
extern "C" int openblas_get_num_threads(void);

namespace flashdiff {

static int currentThreads = 2;

void setThreads(int threads) {
  currentThreads = threads < 1 ? 1 : threads;
  omp_set_num_threads(currentThreads);
  openblas_set_num_threads(currentThreads);
}
int getThreads() { return currentThreads; }

namespace {

struct ArgError : std::exception {
  std::string message;
  explicit ArgError(std::string m) : message(std::move(m)) {}
};

struct Args {
  napi_env env;
  size_t count = 12;
  napi_value values[12];
  Args(napi_env e, napi_callback_info info) : env(e) {
    napi_get_cb_info(env, info, &count, values, nullptr, nullptr);
  }
  napi_value at(size_t i) const {
    if (i >= count) throw ArgError("missing argument " + std::to_string(i));
    return values[i];
  }
  template <typename T>
  T* typed(size_t i, napi_typedarray_type want, size_t minLength) const {
    bool isTyped = false;
    napi_is_typedarray(env, at(i), &isTyped);
    if (!isTyped) throw ArgError("argument " + std::to_string(i) + " must be a typed array");
    napi_typedarray_type type;
    size_t length;
    void* data;
    napi_get_typedarray_info(env, at(i), &type, &length, &data, nullptr, nullptr);
    if (type != want) throw ArgError("argument " + std::to_string(i) + " has the wrong typed-array type");
    if (length < minLength) {
      throw ArgError("argument " + std::to_string(i) + " has " + std::to_string(length) + " elements, needs " +
                     std::to_string(minLength));
    }
    return static_cast<T*>(data);
  }
  float* f32(size_t i, size_t minLength) const { return typed<float>(i, napi_float32_array, minLength); }
  int32_t i32(size_t i) const {
    int32_t v;
    if (napi_get_value_int32(env, at(i), &v) != napi_ok) throw ArgError("argument " + std::to_string(i) + " must be a number");
    return v;
  }
  double f64(size_t i) const {
    double v;
    if (napi_get_value_double(env, at(i), &v) != napi_ok) throw ArgError("argument " + std::to_string(i) + " must be a number");
    return v;
  }
  ConvGeom geom(size_t i) const {
    const int32_t* v = typed<int32_t>(i, napi_int32_array, 17);
    ConvGeom g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15], v[16]};
    const int dims[] = {g.batch, g.inH, g.inW, g.inC, g.kH, g.kW, g.outC, g.outH, g.outW, g.strideH, g.strideW, g.dilationH, g.dilationW};
    for (int d : dims) {
      if (d < 1) throw ArgError("convolution geometry has a non-positive size");
    }
    if (g.padTop < 0 || g.padLeft < 0 || g.padBottom < 0 || g.padRight < 0) throw ArgError("negative padding");
    return g;
  }
};

napi_value undefinedValue(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

template <typename Fn>
napi_value guarded(napi_env env, Fn&& fn) {
  try {
    return fn();
  } catch (const ArgError& e) {
    napi_throw_type_error(env, "ERR_FLASHDIFF_NATIVE_ARGUMENT", e.message.c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, "ERR_FLASHDIFF_NATIVE", e.what());
  }
  return nullptr;
}

size_t inputSize(const ConvGeom& g) { return size_t(g.batch) * g.inH * g.inW * g.inC; }
size_t outputSize(const ConvGeom& g) { return size_t(g.batch) * g.outH * g.outW * g.outC; }
size_t filterSize(const ConvGeom& g) { return size_t(g.kH) * g.kW * g.inC * g.outC; }
// oneDNN is used for undilated convolutions; anything else goes the BLAS route.
bool useDnnl(const ConvGeom& g, int route) {
  return route == int(ConvRoute::Dnnl) && dnnlAvailable() && g.dilationH == 1 && g.dilationW == 1;
}

// convForward(x, filter, y, geom, route[, bias]): bias (outC floats) is fused into the oneDNN
// primitive; on the BLAS route it is added after the product.
napi_value ConvForward(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info);
    ConvGeom g = a.geom(3);
    const float* x = a.f32(0, inputSize(g));
    const float* f = a.f32(1, filterSize(g));
    float* y = a.f32(2, outputSize(g));
    const float* bias = a.count > 5 ? a.f32(5, size_t(g.outC)) : nullptr;
    if (useDnnl(g, a.i32(4))) {
      convForwardDnnl(g, x, f, y, bias);
    } else {
      convForwardBlas(g, x, f, y);
      if (bias != nullptr) {
        const size_t pixels = size_t(g.batch) * g.outH * g.outW;
        for (size_t p = 0; p < pixels; ++p) {
          for (int c = 0; c < g.outC; ++c) y[p * g.outC + c] += bias[c];
        }
      }
    }
    return undefinedValue(env);
  });
}

// convBackpropInput(dy, filter, dx, geom, route)
napi_value ConvBackpropInput(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info);
    ConvGeom g = a.geom(3);
    const float* dy = a.f32(0, outputSize(g));
    const float* f = a.f32(1, filterSize(g));
    float* dx = a.f32(2, inputSize(g));
    if (useDnnl(g, a.i32(4))) convBackpropInputDnnl(g, dy, f, dx); else convBackpropInputBlas(g, dy, f, dx);
    return undefinedValue(env);
  });
}

// convBackpropFilter(x, dy, dFilter, geom, route)
napi_value ConvBackpropFilter(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info);
    ConvGeom g = a.geom(3);
    const float* x = a.f32(0, inputSize(g));
    const float* dy = a.f32(1, outputSize(g));
    float* df = a.f32(2, filterSize(g));
    if (useDnnl(g, a.i32(4))) convBackpropFilterDnnl(g, x, dy, df); else convBackpropFilterBlas(g, x, dy, df);
    return undefinedValue(env);
  });
}

// matMul(a, b, c, batch, m, n, k, transA, transB, batchStrideA, batchStrideB)
napi_value MatMul(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info);
    const int batch = a.i32(3), m = a.i32(4), n = a.i32(5), k = a.i32(6);
    const bool transA = a.i32(7) != 0, transB = a.i32(8) != 0;
    const int64_t strideA = a.i32(9), strideB = a.i32(10);
    if (batch < 1 || m < 1 || n < 1 || k < 1 || strideA < 0 || strideB < 0) throw ArgError("bad matMul sizes");
    const float* pa = a.f32(0, size_t(strideA) * (batch - 1) + size_t(m) * k);
    const float* pb = a.f32(1, size_t(strideB) * (batch - 1) + size_t(k) * n);
    float* pc = a.f32(2, size_t(batch) * m * n);
    batchMatMul(batch, m, n, k, transA, transB, pa, strideA, pb, strideB, pc);
    return undefinedValue(env);
  });
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info);
    setThreads(a.i32(0));
    return undefinedValue(env);
  });
}

napi_value GetInfo(napi_env env, napi_callback_info) {
  napi_value obj, threads, dnnl;
  napi_create_object(env, &obj);
  napi_create_int32(env, getThreads(), &threads);
  napi_get_boolean(env, dnnlAvailable(), &dnnl);
  napi_set_named_property(env, obj, "threads", threads);
  napi_set_named_property(env, obj, "dnnl", dnnl);
  return obj;
}

// trimMemory(): hand the C heap's free pages back to the system (glibc's malloc_trim). Freed
// ArrayBuffers (tfjs weights once a model runs elsewhere) go back to malloc, not to the system, and
// stay in the process's resident set where they are fragmented; true when anything was released.
napi_value TrimMemory(napi_env env, napi_callback_info) {
  bool released = false;
#ifdef __GLIBC__
  released = malloc_trim(0) != 0;
#endif
  napi_value result;
  napi_get_boolean(env, released, &result);
  return result;
}

// dnnlForwardImpl(geom): which oneDNN implementation serves this forward convolution.
napi_value DnnlForwardImpl(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info);
    std::string impl = dnnlForwardImpl(a.geom(0));
    napi_value s;
    napi_create_string_utf8(env, impl.c_str(), impl.size(), &s);
    return s;
  });
}

napi_value Init(napi_env env, napi_value exports) {
  const char* env_threads = std::getenv("FLASHDIFF_NATIVE_THREADS");
  setThreads(env_threads ? std::atoi(env_threads) : 2);
  napi_property_descriptor props[] = {
      {"convForward", nullptr, ConvForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"convBackpropInput", nullptr, ConvBackpropInput, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"convBackpropFilter", nullptr, ConvBackpropFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"matMul", nullptr, MatMul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, GetInfo, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"dnnlForwardImpl", nullptr, DnnlForwardImpl, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"trimMemory", nullptr, TrimMemory, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  registerElementwise(env, exports);
  registerLayout(env, exports);
  registerGroupNorm(env, exports);
  registerOptimizer(env, exports);
  return exports;
}

}  // namespace
}  // namespace flashdiff

NAPI_MODULE(NODE_GYP_MODULE_NAME, flashdiff::Init)
