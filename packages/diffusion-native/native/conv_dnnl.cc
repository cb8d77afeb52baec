// Convolutions through oneDNN primitives (the library PyTorch's CPU build uses for its convolutions).
// tfjs's NHWC activations and HWIO filters are described to oneDNN as user memory; oneDNN picks its
// own (blocked) layouts ("format_tag::any") and the reorders between the two are cached with the
// primitive, keyed by the convolution's geometry, because creating a primitive costs far more than
// running a small one.
#include "kernels.h"

#ifdef FLASHDIFF_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>

#include <array>
#include <cstdlib>
#include <map>
#include <memory>
#include <unordered_map>
#include <utility>

namespace flashdiff {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

dnnl::engine& cpuEngine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}
dnnl::stream& cpuStream() {
  static dnnl::stream stream(cpuEngine());
  return stream;
}

// Where the activations live while oneDNN convolves them. Blocked: oneDNN picks its layout
// (nChw8c on AVX2, nChw16c on AVX-512) and cached reorders convert from and to tfjs's NHWC around
// each call. NHWC: no reorders; on AVX-512 oneDNN 2.6 then runs brgconv forward kernels.
// Measured (bench/native-kernels.ts; ContextUnet training step): on an AVX2 machine blocked was
// faster (all convolutions of a batch-32 forward 91 ms blocked vs 110 ms NHWC); on this project's
// AVX-512/AMX Xeon NHWC is (training step at 2 threads, CPU time 948–1,012 ms vs 1,065–1,127 ms,
// interleaved). So NHWC where oneDNN runs AVX-512 kernels, blocked below;
// FLASHDIFF_DNNL_ACTIVATIONS=nhwc|blocked overrides.
bool blockedActivations() {
  static const bool blocked = [] {
    const char* v = std::getenv("FLASHDIFF_DNNL_ACTIVATIONS");
    if (v != nullptr && std::string(v) == "nhwc") return false;
    if (v != nullptr && std::string(v) == "blocked") return true;
    const unsigned isa = unsigned(dnnl::get_effective_cpu_isa());
    const unsigned avx512 = unsigned(dnnl_cpu_isa_avx512_core);
    return (isa & avx512) != avx512;
  }();
  return blocked;
}

struct Descs {
  memory::desc srcUser, weightsUser, dstUser;
  memory::desc src, weights, dst;  // what the primitive is asked for (any or user layout)
  memory::dims strides, padL, padR;
};

Descs describe(const ConvGeom& g) {
  Descs d;
  const memory::dims src = {g.batch, g.inC, g.inH, g.inW};
  const memory::dims weights = {g.outC, g.inC, g.kH, g.kW};
  const memory::dims dst = {g.batch, g.outC, g.outH, g.outW};
  d.srcUser = memory::desc(src, dt::f32, tag::nhwc);
  d.weightsUser = memory::desc(weights, dt::f32, tag::hwio);
  d.dstUser = memory::desc(dst, dt::f32, tag::nhwc);
  const tag act = blockedActivations() ? tag::any : tag::nhwc;
  d.src = memory::desc(src, dt::f32, act);
  d.weights = memory::desc(weights, dt::f32, tag::any);
  d.dst = memory::desc(dst, dt::f32, act);
  d.strides = {g.strideH, g.strideW};
  d.padL = {g.padTop, g.padLeft};
  d.padR = {g.padBottom, g.padRight};
  return d;
}

dnnl::convolution_forward::primitive_desc forwardPd(const Descs& d, bool withBias = false) {
  if (withBias) {
    // The bias is added inside the convolution kernel (one pass over the output instead of two).
    const memory::desc bias({d.dstUser.dims()[1]}, dt::f32, tag::x);
    dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, d.src,
                                         d.weights, bias, d.dst, d.strides, d.padL, d.padR);
    return dnnl::convolution_forward::primitive_desc(desc, cpuEngine());
  }
  dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, d.src,
                                       d.weights, d.dst, d.strides, d.padL, d.padR);
  return dnnl::convolution_forward::primitive_desc(desc, cpuEngine());
}

// A tensor that is user memory when the primitive accepts the user layout, else a cached scratch
// buffer in the primitive's layout plus the reorder between them.
struct Staged {
  memory::desc want;
  bool needsReorder = false;
  memory scratch;
  dnnl::reorder toPrimitive, fromPrimitive;
  void init(const memory::desc& user, const memory::desc& wanted, bool input) {
    want = wanted;
    needsReorder = !(user == wanted);
    if (!needsReorder) return;
    scratch = memory(wanted, cpuEngine());
    memory userMem(user, cpuEngine(), nullptr);
    if (input) {
      toPrimitive = dnnl::reorder(userMem, scratch);
    } else {
      fromPrimitive = dnnl::reorder(scratch, userMem);
    }
  }
  memory in(const memory::desc& user, const float* ptr) {
    memory userMem(user, cpuEngine(), const_cast<float*>(ptr));
    if (!needsReorder) return userMem;
    toPrimitive.execute(cpuStream(), userMem, scratch);
    return scratch;
  }
  memory outTarget(const memory::desc& user, float* ptr) {
    return needsReorder ? scratch : memory(user, cpuEngine(), ptr);
  }
  void out(const memory::desc& user, float* ptr) {
    if (!needsReorder) return;
    memory userMem(user, cpuEngine(), ptr);
    fromPrimitive.execute(cpuStream(), scratch, userMem);
  }
};

struct ForwardEntry {
  Descs d;
  dnnl::convolution_forward prim;
  Staged src, weights, dst;
  std::string impl;
};
struct BackwardDataEntry {
  Descs d;
  dnnl::convolution_backward_data prim;
  Staged diffDst, weights, diffSrc;
};
struct BackwardWeightsEntry {
  Descs d;
  dnnl::convolution_backward_weights prim;
  Staged src, diffDst, diffWeights;
};

using Key = std::array<int, 17>;
Key keyOf(const ConvGeom& g) {
  return {g.batch, g.inH, g.inW, g.inC, g.kH, g.kW, g.outC, g.outH, g.outW, g.strideH, g.strideW,
          g.padTop, g.padLeft, g.padBottom, g.padRight, g.dilationH, g.dilationW};
}

ForwardEntry& forwardEntry(const ConvGeom& g, bool withBias = false) {
  static std::map<std::pair<Key, bool>, std::unique_ptr<ForwardEntry>> cache;
  auto& slot = cache[{keyOf(g), withBias}];
  if (!slot) {
    auto e = std::make_unique<ForwardEntry>();
    e->d = describe(g);
    auto pd = forwardPd(e->d, withBias);
    e->prim = dnnl::convolution_forward(pd);
    e->src.init(e->d.srcUser, pd.src_desc(), true);
    e->weights.init(e->d.weightsUser, pd.weights_desc(), true);
    e->dst.init(e->d.dstUser, pd.dst_desc(), false);
    e->impl = pd.impl_info_str();
    slot = std::move(e);
  }
  return *slot;
}

BackwardDataEntry& backwardDataEntry(const ConvGeom& g) {
  static std::map<Key, std::unique_ptr<BackwardDataEntry>> cache;
  auto& slot = cache[keyOf(g)];
  if (!slot) {
    auto e = std::make_unique<BackwardDataEntry>();
    e->d = describe(g);
    auto hint = forwardPd(e->d);
    dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, e->d.src, e->d.weights, e->d.dst,
                                               e->d.strides, e->d.padL, e->d.padR);
    dnnl::convolution_backward_data::primitive_desc pd(desc, cpuEngine(), hint);
    e->prim = dnnl::convolution_backward_data(pd);
    e->diffDst.init(e->d.dstUser, pd.diff_dst_desc(), true);
    e->weights.init(e->d.weightsUser, pd.weights_desc(), true);
    e->diffSrc.init(e->d.srcUser, pd.diff_src_desc(), false);
    slot = std::move(e);
  }
  return *slot;
}

BackwardWeightsEntry& backwardWeightsEntry(const ConvGeom& g) {
  static std::map<Key, std::unique_ptr<BackwardWeightsEntry>> cache;
  auto& slot = cache[keyOf(g)];
  if (!slot) {
    auto e = std::make_unique<BackwardWeightsEntry>();
    e->d = describe(g);
    auto hint = forwardPd(e->d);
    dnnl::convolution_backward_weights::desc desc(dnnl::algorithm::convolution_direct, e->d.src, e->d.weights,
                                                  e->d.dst, e->d.strides, e->d.padL, e->d.padR);
    dnnl::convolution_backward_weights::primitive_desc pd(desc, cpuEngine(), hint);
    e->prim = dnnl::convolution_backward_weights(pd);
    e->src.init(e->d.srcUser, pd.src_desc(), true);
    e->diffDst.init(e->d.dstUser, pd.diff_dst_desc(), true);
    e->diffWeights.init(e->d.weightsUser, pd.diff_weights_desc(), false);
    slot = std::move(e);
  }
  return *slot;
}

}  // namespace

bool dnnlAvailable() { return true; }

void convForwardDnnl(const ConvGeom& g, const float* x, const float* filter, float* y, const float* bias) {
  auto& e = forwardEntry(g, bias != nullptr);
  memory src = e.src.in(e.d.srcUser, x);
  memory weights = e.weights.in(e.d.weightsUser, filter);
  memory dst = e.dst.outTarget(e.d.dstUser, y);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}};
  if (bias != nullptr) {
    args.emplace(DNNL_ARG_BIAS, memory(memory::desc({g.outC}, dt::f32, tag::x), cpuEngine(), const_cast<float*>(bias)));
  }
  e.prim.execute(cpuStream(), args);
  e.dst.out(e.d.dstUser, y);
  cpuStream().wait();
}

void convBackpropInputDnnl(const ConvGeom& g, const float* dy, const float* filter, float* dx) {
  auto& e = backwardDataEntry(g);
  memory diffDst = e.diffDst.in(e.d.dstUser, dy);
  memory weights = e.weights.in(e.d.weightsUser, filter);
  memory diffSrc = e.diffSrc.outTarget(e.d.srcUser, dx);
  e.prim.execute(cpuStream(), {{DNNL_ARG_DIFF_DST, diffDst}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DIFF_SRC, diffSrc}});
  e.diffSrc.out(e.d.srcUser, dx);
  cpuStream().wait();
}

void convBackpropFilterDnnl(const ConvGeom& g, const float* x, const float* dy, float* dFilter) {
  auto& e = backwardWeightsEntry(g);
  memory src = e.src.in(e.d.srcUser, x);
  memory diffDst = e.diffDst.in(e.d.dstUser, dy);
  memory diffWeights = e.diffWeights.outTarget(e.d.weightsUser, dFilter);
  e.prim.execute(cpuStream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diffDst}, {DNNL_ARG_DIFF_WEIGHTS, diffWeights}});
  e.diffWeights.out(e.d.weightsUser, dFilter);
  cpuStream().wait();
}

std::string dnnlForwardImpl(const ConvGeom& g) { return forwardEntry(g).impl; }

}  // namespace flashdiff

#else  // no oneDNN at build time: the BLAS route serves every convolution.

namespace flashdiff {
bool dnnlAvailable() { return false; }
void convForwardDnnl(const ConvGeom& g, const float* x, const float* filter, float* y, const float* bias) {
  convForwardBlas(g, x, filter, y);
  if (bias == nullptr) return;
  const size_t pixels = size_t(g.batch) * g.outH * g.outW;
  for (size_t p = 0; p < pixels; ++p) {
    for (int c = 0; c < g.outC; ++c) y[p * g.outC + c] += bias[c];
  }
}
void convBackpropInputDnnl(const ConvGeom& g, const float* dy, const float* filter, float* dx) {
  convBackpropInputBlas(g, dy, filter, dx);
}
void convBackpropFilterDnnl(const ConvGeom& g, const float* x, const float* dy, float* dFilter) {
  convBackpropFilterBlas(g, x, dy, dFilter);
}
std::string dnnlForwardImpl(const ConvGeom&) { return "none"; }
}  // namespace flashdiff

#endif
