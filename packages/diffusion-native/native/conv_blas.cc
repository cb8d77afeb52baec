// Convolution as im2col + one sgemm (Chellapilla et al. 2006): in NHWC each output pixel's receptive
// field is a contiguous row of kH·kW·inC values, so
//   forward:          Y[M, outC]  = col[M, K] · F[K, outC]           (M = batch·outH·outW, K = kH·kW·inC)
//   backprop input:   dcol[M, K]  = dY[M, outC] · Fᵀ, then col2im (scatter-add back into dX)
//   backprop filter:  dF[K, outC] = colᵀ · dY
// The HWIO filter is already the [K, outC] matrix. A 1×1 stride-1 unpadded convolution needs no col.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels.h"

namespace flashdiff {

namespace {

// The column buffer is reused between calls (the JS thread is the only caller); batches are
// processed in chunks so it stays under ~32 MiB.
std::vector<float>& columnBuffer() {
  static std::vector<float> buffer;
  return buffer;
}

bool isPointwise(const ConvGeom& g) {
  return g.kH == 1 && g.kW == 1 && g.strideH == 1 && g.strideW == 1 && g.padTop == 0 && g.padLeft == 0 &&
         g.outH == g.inH && g.outW == g.inW;
}

int chunkImages(const ConvGeom& g) {
  const size_t perImage = size_t(g.outH) * g.outW * g.kH * g.kW * g.inC;
  const size_t limit = size_t(8) << 20;  // floats
  return int(std::max<size_t>(1, std::min<size_t>(g.batch, limit / std::max<size_t>(perImage, 1))));
}

void im2col(const ConvGeom& g, const float* x, int firstImage, int images, float* col) {
  const int K = g.kH * g.kW * g.inC;
  const int rows = images * g.outH * g.outW;
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    const int n = firstImage + r / (g.outH * g.outW);
    const int oy = (r / g.outW) % g.outH;
    const int ox = r % g.outW;
    float* dst = col + size_t(r) * K;
    for (int ky = 0; ky < g.kH; ++ky) {
      const int iy = oy * g.strideH - g.padTop + ky * g.dilationH;
      for (int kx = 0; kx < g.kW; ++kx) {
        const int ix = ox * g.strideW - g.padLeft + kx * g.dilationW;
        float* d = dst + (ky * g.kW + kx) * g.inC;
        if (iy < 0 || iy >= g.inH || ix < 0 || ix >= g.inW) {
          std::memset(d, 0, sizeof(float) * g.inC);
        } else {
          std::memcpy(d, x + ((size_t(n) * g.inH + iy) * g.inW + ix) * g.inC, sizeof(float) * g.inC);
        }
      }
    }
  }
}

// Scatter-add of dcol rows into dX; parallel over images, so no two threads touch the same pixel.
void col2im(const ConvGeom& g, const float* col, int firstImage, int images, float* dx) {
  const int K = g.kH * g.kW * g.inC;
#pragma omp parallel for schedule(static)
  for (int i = 0; i < images; ++i) {
    const int n = firstImage + i;
    for (int oy = 0; oy < g.outH; ++oy) {
      for (int ox = 0; ox < g.outW; ++ox) {
        const float* src = col + (size_t(i) * g.outH * g.outW + size_t(oy) * g.outW + ox) * K;
        for (int ky = 0; ky < g.kH; ++ky) {
          const int iy = oy * g.strideH - g.padTop + ky * g.dilationH;
          if (iy < 0 || iy >= g.inH) continue;
          for (int kx = 0; kx < g.kW; ++kx) {
            const int ix = ox * g.strideW - g.padLeft + kx * g.dilationW;
            if (ix < 0 || ix >= g.inW) continue;
            float* d = dx + ((size_t(n) * g.inH + iy) * g.inW + ix) * g.inC;
            const float* s = src + (ky * g.kW + kx) * g.inC;
            for (int c = 0; c < g.inC; ++c) d[c] += s[c];
          }
        }
      }
    }
  }
}

}  // namespace

void convForwardBlas(const ConvGeom& g, const float* x, const float* filter, float* y) {
  const int K = g.kH * g.kW * g.inC;
  if (isPointwise(g)) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g.batch * g.inH * g.inW, g.outC, g.inC, 1.0f, x, g.inC,
                filter, g.outC, 0.0f, y, g.outC);
    return;
  }
  const int chunk = chunkImages(g);
  auto& col = columnBuffer();
  col.resize(size_t(chunk) * g.outH * g.outW * K);
  for (int n0 = 0; n0 < g.batch; n0 += chunk) {
    const int images = std::min(chunk, g.batch - n0);
    const int rows = images * g.outH * g.outW;
    im2col(g, x, n0, images, col.data());
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, g.outC, K, 1.0f, col.data(), K, filter, g.outC, 0.0f,
                y + size_t(n0) * g.outH * g.outW * g.outC, g.outC);
  }
}

void convBackpropInputBlas(const ConvGeom& g, const float* dy, const float* filter, float* dx) {
  const int K = g.kH * g.kW * g.inC;
  if (isPointwise(g)) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g.batch * g.inH * g.inW, g.inC, g.outC, 1.0f, dy, g.outC,
                filter, g.outC, 0.0f, dx, g.inC);
    return;
  }
  std::memset(dx, 0, sizeof(float) * size_t(g.batch) * g.inH * g.inW * g.inC);
  const int chunk = chunkImages(g);
  auto& col = columnBuffer();
  col.resize(size_t(chunk) * g.outH * g.outW * K);
  for (int n0 = 0; n0 < g.batch; n0 += chunk) {
    const int images = std::min(chunk, g.batch - n0);
    const int rows = images * g.outH * g.outW;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, K, g.outC, 1.0f,
                dy + size_t(n0) * g.outH * g.outW * g.outC, g.outC, filter, g.outC, 0.0f, col.data(), K);
    col2im(g, col.data(), n0, images, dx);
  }
}

void convBackpropFilterBlas(const ConvGeom& g, const float* x, const float* dy, float* dFilter) {
  const int K = g.kH * g.kW * g.inC;
  if (isPointwise(g)) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g.inC, g.outC, g.batch * g.inH * g.inW, 1.0f, x, g.inC, dy,
                g.outC, 0.0f, dFilter, g.outC);
    return;
  }
  const int chunk = chunkImages(g);
  auto& col = columnBuffer();
  col.resize(size_t(chunk) * g.outH * g.outW * K);
  for (int n0 = 0; n0 < g.batch; n0 += chunk) {
    const int images = std::min(chunk, g.batch - n0);
    const int rows = images * g.outH * g.outW;
    im2col(g, x, n0, images, col.data());
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, g.outC, rows, 1.0f, col.data(), K,
                dy + size_t(n0) * g.outH * g.outW * g.outC, g.outC, n0 == 0 ? 0.0f : 1.0f, dFilter, g.outC);
  }
}

void batchMatMul(int batch, int m, int n, int k, bool transA, bool transB, const float* a, int64_t strideA,
                 const float* b, int64_t strideB, float* c) {
  const int lda = transA ? m : k;
  const int ldb = transB ? k : n;
  for (int i = 0; i < batch; ++i) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, m, n, k, 1.0f,
                a + i * strideA, lda, b + i * strideB, ldb, 0.0f, c + int64_t(i) * m * n, n);
  }
}

}  // namespace flashdiff
