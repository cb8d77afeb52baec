// Kernels of the native tfjs backend. Every tensor is float32, row-major, NHWC for images and
// HWIO ([kh, kw, inChannels, outChannels]) for convolution filters, exactly as tfjs stores them,
// so the JS side passes its typed arrays through without copies or transposes.
#pragma once
#include <cstdint>
#include <string>

namespace flashdiff {

// Geometry of one 2-D convolution, already resolved by tfjs's computeConv2DInfo (padding in pixels).
struct ConvGeom {
  int batch, inH, inW, inC;
  int kH, kW, outC;
  int outH, outW;
  int strideH, strideW;
  int padTop, padLeft, padBottom, padRight;
  int dilationH, dilationW;
};

enum class ConvRoute { Blas = 0, Dnnl = 1 };

// im2col + sgemm (OpenBLAS).
void convForwardBlas(const ConvGeom& g, const float* x, const float* filter, float* y);
void convBackpropInputBlas(const ConvGeom& g, const float* dy, const float* filter, float* dx);
void convBackpropFilterBlas(const ConvGeom& g, const float* x, const float* dy, float* dFilter);

// oneDNN convolution primitives (only when built with FLASHDIFF_HAVE_DNNL).
bool dnnlAvailable();
// bias: per output channel, added by the primitive; nullptr for none.
void convForwardDnnl(const ConvGeom& g, const float* x, const float* filter, float* y, const float* bias = nullptr);
void convBackpropInputDnnl(const ConvGeom& g, const float* dy, const float* filter, float* dx);
void convBackpropFilterDnnl(const ConvGeom& g, const float* x, const float* dy, float* dFilter);
// The implementation oneDNN picked for a forward convolution of this geometry (e.g. "jit:avx2").
std::string dnnlForwardImpl(const ConvGeom& g);

// C[b] = op(A[b]) · op(B[b]); batch strides of 0 broadcast one matrix over the batch.
void batchMatMul(int batch, int m, int n, int k, bool transA, bool transB, const float* a, int64_t strideA,
                 const float* b, int64_t strideB, float* c);

void setThreads(int threads);
int getThreads();

}  // namespace flashdiff
