// 2-D convolution, average pooling and nearest upsampling, NCHW.
// Three schedules: with oneDNN (gemm_uses_dnnl), its direct convolution primitives
// (conv_dnnl.cc), or where those fail or the work is small, images in chunks: im2col of a chunk
// in parallel, then one batched product that oneDNN threads itself; with OpenBLAS, one image
// per thread (im2col + single-threaded BLAS).
#include "conv.h"

namespace puma {

static Conv geometry(const Napi::Value& v) {
  Napi::Object g = v.As<Napi::Object>();
  auto get = [&](const char* k) { return static_cast<int64_t>(g.Get(k).As<Napi::Number>().Int64Value()); };
  return Conv{get("n"), get("c"), get("h"), get("w"), get("o"), get("kh"), get("kw"), get("strideH"),
              get("strideW"), get("padH"), get("padW"), get("oh"), get("ow")};
}

// col [c*kh*kw, oh*ow] from one image x [c, h, w].
static void im2col(const float* x, float* col, const Conv& g) {
  const int64_t L = g.oh * g.ow;
  for (int64_t ic = 0; ic < g.c; ic++)
    for (int64_t ky = 0; ky < g.kh; ky++)
      for (int64_t kx = 0; kx < g.kw; kx++) {
        float* dst = col + ((ic * g.kh + ky) * g.kw + kx) * L;
        for (int64_t y = 0; y < g.oh; y++) {
          const int64_t iy = y * g.sh - g.ph + ky;
          float* d = dst + y * g.ow;
          if (iy < 0 || iy >= g.h) { std::memset(d, 0, g.ow * sizeof(float)); continue; }
          const float* src = x + (ic * g.h + iy) * g.w;
          if (g.sw == 1) {
            const int64_t off = kx - g.pw;
            for (int64_t xq = 0; xq < g.ow; xq++) {
              const int64_t ix = xq + off;
              d[xq] = (ix >= 0 && ix < g.w) ? src[ix] : 0.0f;
            }
          } else {
            for (int64_t xq = 0; xq < g.ow; xq++) {
              const int64_t ix = xq * g.sw - g.pw + kx;
              d[xq] = (ix >= 0 && ix < g.w) ? src[ix] : 0.0f;
            }
          }
        }
      }
}

// Accumulates col [c*kh*kw, oh*ow] back into the image gradient gx [c, h, w] (zeroed by caller).
static void col2im(const float* col, float* gx, const Conv& g) {
  const int64_t L = g.oh * g.ow;
  for (int64_t ic = 0; ic < g.c; ic++)
    for (int64_t ky = 0; ky < g.kh; ky++)
      for (int64_t kx = 0; kx < g.kw; kx++) {
        const float* src = col + ((ic * g.kh + ky) * g.kw + kx) * L;
        for (int64_t y = 0; y < g.oh; y++) {
          const int64_t iy = y * g.sh - g.ph + ky;
          if (iy < 0 || iy >= g.h) continue;
          float* d = gx + (ic * g.h + iy) * g.w;
          const float* s = src + y * g.ow;
          for (int64_t xq = 0; xq < g.ow; xq++) {
            const int64_t ix = xq * g.sw - g.pw + kx;
            if (ix >= 0 && ix < g.w) d[ix] += s[xq];
          }
        }
      }
}

static thread_local std::vector<float> tl_col;
static float* scratch(size_t n) {
  if (tl_col.size() < n) tl_col.resize(n);
  return tl_col.data();
}

// Images per chunk of the oneDNN schedule: its im2col buffer stays under ~32 MB.
static int64_t chunk_images(const Conv& g, int64_t K, int64_t L) {
  const int64_t per = std::max<int64_t>(1, K * L);
  return std::max<int64_t>(1, std::min<int64_t>(g.n, (int64_t{8} << 20) / per));
}
static thread_local std::vector<float> tl_col2, tl_part;

// The columns of images i0..i0+nb-1, [nb, K, L]: the input itself for a pointwise conv, else
// im2col of each image (in parallel) into the scratch buffer.
static const float* chunk_cols(const float* x, int64_t i0, int64_t nb, const Conv& g) {
  const int64_t K = g.c * g.kh * g.kw, L = g.oh * g.ow, chw = g.c * g.h * g.w;
  if (g.pointwise()) return x + i0 * chw;
  float* buf = scratch(nb * K * L);
#pragma omp parallel for schedule(static) if (nb > 1)
  for (int64_t j = 0; j < nb; j++) im2col(x + (i0 + j) * chw, buf + j * K * L, g);
  return buf;
}

static void conv2d_chunked(const float* x, const float* w, const float* bias, float* out, const Conv& g) {
  const int64_t K = g.c * g.kh * g.kw, L = g.oh * g.ow, chw = g.c * g.h * g.w, step = chunk_images(g, K, L);
  for (int64_t i0 = 0; i0 < g.n; i0 += step) {
    const int64_t nb = std::min(step, g.n - i0);
    const float* col = chunk_cols(x, i0, nb, g);
    float* o = out + i0 * g.o * L;
    if (bias) {
#pragma omp parallel for schedule(static) if (nb * g.o * L > kParallelGrain)
      for (int64_t r = 0; r < nb * g.o; r++) std::fill(o + r * L, o + (r + 1) * L, bias[r % g.o]);
    }
    gemm(false, false, g.o, L, K, 1.0f, w, K, 0, col, L, g.pointwise() ? chw : K * L, bias ? 1.0f : 0.0f, o, L,
         g.o * L, nb);
  }
}

// Direct primitives are on, and the work is above the multiply-adds below which their reorders
// cost more than they save.
static bool conv_dnnl_worth(const Conv& g) {
  return conv_direct() && static_cast<double>(g.n) * g.o * g.oh * g.ow * g.c * g.kh * g.kw >= 48.0 * 48 * 48;
}

static Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const float* w = f32(info[1]);
  const float* bias = f32(info[2]);
  float* out = f32(info[3]);
  const Conv g = geometry(info[4]);
  if (gemm_uses_dnnl()) {
#ifdef PUMA_HAVE_DNNL
    if (conv_dnnl_worth(g) && conv2d_dnnl(x, w, bias, out, g)) return info.Env().Undefined();
#endif
    conv2d_chunked(x, w, bias, out, g);
    return info.Env().Undefined();
  }
  const int64_t K = g.c * g.kh * g.kw, L = g.oh * g.ow;
  // One image per thread when there are enough images; otherwise BLAS threads each product.
  const bool per_image = g.n >= num_threads() && blas_is_openmp();
#pragma omp parallel for schedule(dynamic) if (per_image)
  for (int64_t i = 0; i < g.n; i++) {
    const float* xi = x + i * g.c * g.h * g.w;
    float* oi = out + i * g.o * L;
    const float* col = xi;
    if (!g.pointwise()) {
      float* buf = scratch(K * L);
      im2col(xi, buf, g);
      col = buf;
    }
    float beta = 0.0f;
    if (bias) {
      for (int64_t oc = 0; oc < g.o; oc++) std::fill(oi + oc * L, oi + (oc + 1) * L, bias[oc]);
      beta = 1.0f;
    }
    gemm(false, false, g.o, L, K, 1.0f, w, K, 0, col, L, 0, beta, oi, L, 0, 1);
  }
  return info.Env().Undefined();
}

// gx and gw of the oneDNN schedule (gb is summed by the caller): per chunk, gcol = W^T gy as
// one batched product, then col2im per image in parallel; gW as a batched product of per-image
// partials gy_j col_j^T, summed.
static void conv2d_grad_chunked(const float* x, const float* w, const float* gy, float* gx, float* gw, const Conv& g) {
  const int64_t K = g.c * g.kh * g.kw, L = g.oh * g.ow, chw = g.c * g.h * g.w, wsize = g.o * K;
  const int64_t step = chunk_images(g, K, L);
  if (gw) std::memset(gw, 0, wsize * sizeof(float));
  for (int64_t i0 = 0; i0 < g.n; i0 += step) {
    const int64_t nb = std::min(step, g.n - i0);
    const float* gyc = gy + i0 * g.o * L;
    if (gw) {
      const float* col = chunk_cols(x, i0, nb, g);
      if (tl_part.size() < static_cast<size_t>(nb * wsize)) tl_part.resize(nb * wsize);
      float* part = tl_part.data();
      gemm(false, true, g.o, K, L, 1.0f, gyc, L, g.o * L, col, L, g.pointwise() ? chw : K * L, 0.0f, part, K, wsize,
           nb);
#pragma omp parallel for schedule(static) if (wsize > kParallelGrain / 4)
      for (int64_t e = 0; e < wsize; e++) {
        float s = gw[e];
        for (int64_t j = 0; j < nb; j++) s += part[j * wsize + e];
        gw[e] = s;
      }
    }
    if (gx) {
      float* gxc = gx + i0 * chw;
      if (g.pointwise()) {
        gemm(true, false, K, L, g.o, 1.0f, w, K, 0, gyc, L, g.o * L, 0.0f, gxc, L, chw, nb);
      } else {
        if (tl_col2.size() < static_cast<size_t>(nb * K * L)) tl_col2.resize(nb * K * L);
        float* gcol = tl_col2.data();
        gemm(true, false, K, L, g.o, 1.0f, w, K, 0, gyc, L, g.o * L, 0.0f, gcol, L, K * L, nb);
        std::memset(gxc, 0, nb * chw * sizeof(float));
#pragma omp parallel for schedule(static) if (nb > 1)
        for (int64_t j = 0; j < nb; j++) col2im(gcol + j * K * L, gxc + j * chw, g);
      }
    }
  }
}

static Napi::Value Conv2dGrad(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const float* w = f32(info[1]);
  const float* gy = f32(info[2]);
  float* gx = f32(info[3]);
  float* gw = f32(info[4]);
  float* gb = f32(info[5]);
  const Conv g = geometry(info[6]);
  const int64_t K = g.c * g.kh * g.kw, L = g.oh * g.ow, wsize = g.o * K;
  const bool chunked = gemm_uses_dnnl();
  bool direct = false;
#ifdef PUMA_HAVE_DNNL
  direct = chunked && conv_dnnl_worth(g) && conv2d_grad_dnnl(x, w, gy, gx, gw, g);
#endif
  if (chunked && !direct) conv2d_grad_chunked(x, w, gy, gx, gw, g);
  const bool per_image = g.n >= num_threads() && blas_is_openmp();
  const int nt = per_image ? num_threads() : 1;
  std::vector<float> gw_part(gw && !chunked ? nt * wsize : 0, 0.0f);
  if (gx && !chunked) std::memset(gx, 0, g.n * g.c * g.h * g.w * sizeof(float));
#pragma omp parallel for schedule(dynamic) num_threads(nt) if (per_image)
  for (int64_t i = 0; i < (chunked ? 0 : g.n); i++) {
    const int t = per_image ? omp_get_thread_num() : 0;
    const float* xi = x + i * g.c * g.h * g.w;
    const float* gyi = gy + i * g.o * L;
    if (gw) {
      const float* col = xi;
      if (!g.pointwise()) {
        float* buf = scratch(K * L);
        im2col(xi, buf, g);
        col = buf;
      }
      // gW [o, K] += gy_i [o, L] @ col^T [L, K]
      gemm(false, true, g.o, K, L, 1.0f, gyi, L, 0, col, L, 0, 1.0f, gw_part.data() + t * wsize, K, 0, 1);
    }
    if (gx) {
      float* gxi = gx + i * g.c * g.h * g.w;
      if (g.pointwise()) {
        gemm(true, false, K, L, g.o, 1.0f, w, K, 0, gyi, L, 0, 0.0f, gxi, L, 0, 1);
      } else {
        float* gcol = scratch(K * L);
        // gcol [K, L] = W^T [K, o] @ gy_i [o, L]
        gemm(true, false, K, L, g.o, 1.0f, w, K, 0, gyi, L, 0, 0.0f, gcol, L, 0, 1);
        col2im(gcol, gxi, g);
      }
    }
  }
  if (gw && !chunked) {
    for (int64_t j = 0; j < wsize; j++) {
      float s = 0;
      for (int t = 0; t < nt; t++) s += gw_part[t * wsize + j];
      gw[j] = s;
    }
  }
  if (gb) {
    for (int64_t oc = 0; oc < g.o; oc++) {
      double s = 0;
      for (int64_t i = 0; i < g.n; i++) {
        const float* p = gy + (i * g.o + oc) * L;
        float part = 0;
#pragma omp simd reduction(+ : part)
        for (int64_t j = 0; j < L; j++) part += p[j];
        s += part;
      }
      gb[oc] = static_cast<float>(s);
    }
  }
  return info.Env().Undefined();
}

static Napi::Value AvgPool2d(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  float* out = f32(info[1]);
  int64_t nc = num(info[2]), h = num(info[3]), w = num(info[4]), k = num(info[5]);
  const int64_t oh = h / k, ow = w / k;
  const float inv = 1.0f / (k * k);
#pragma omp parallel for schedule(static) if (nc * h * w > kParallelGrain)
  for (int64_t i = 0; i < nc; i++)
    for (int64_t y = 0; y < oh; y++)
      for (int64_t xq = 0; xq < ow; xq++) {
        float s = 0;
        for (int64_t dy = 0; dy < k; dy++)
          for (int64_t dx = 0; dx < k; dx++) s += x[(i * h + y * k + dy) * w + xq * k + dx];
        out[(i * oh + y) * ow + xq] = s * inv;
      }
  return info.Env().Undefined();
}

static Napi::Value AvgPool2dGrad(const Napi::CallbackInfo& info) {
  const float* gy = f32(info[0]);
  float* gx = f32(info[1]);
  int64_t nc = num(info[2]), h = num(info[3]), w = num(info[4]), k = num(info[5]);
  const int64_t oh = h / k, ow = w / k;
  const float inv = 1.0f / (k * k);
#pragma omp parallel for schedule(static) if (nc * h * w > kParallelGrain)
  for (int64_t i = 0; i < nc; i++)
    for (int64_t y = 0; y < h; y++)
      for (int64_t xq = 0; xq < w; xq++) {
        const int64_t py = y / k, px = xq / k;
        gx[(i * h + y) * w + xq] = (py < oh && px < ow) ? gy[(i * oh + py) * ow + px] * inv : 0.0f;
      }
  return info.Env().Undefined();
}

static Napi::Value UpsampleNearest(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  float* out = f32(info[1]);
  int64_t nc = num(info[2]), h = num(info[3]), w = num(info[4]), s = num(info[5]);
  const int64_t oh = h * s, ow = w * s;
#pragma omp parallel for schedule(static) if (nc * oh * ow > kParallelGrain)
  for (int64_t i = 0; i < nc; i++)
    for (int64_t y = 0; y < oh; y++) {
      const float* src = x + (i * h + y / s) * w;
      float* d = out + (i * oh + y) * ow;
      for (int64_t xq = 0; xq < ow; xq++) d[xq] = src[xq / s];
    }
  return info.Env().Undefined();
}

static Napi::Value UpsampleNearestGrad(const Napi::CallbackInfo& info) {
  const float* gy = f32(info[0]);
  float* gx = f32(info[1]);
  int64_t nc = num(info[2]), h = num(info[3]), w = num(info[4]), s = num(info[5]);
  const int64_t oh = h * s, ow = w * s;
#pragma omp parallel for schedule(static) if (nc * oh * ow > kParallelGrain)
  for (int64_t i = 0; i < nc; i++)
    for (int64_t y = 0; y < h; y++)
      for (int64_t xq = 0; xq < w; xq++) {
        float acc = 0;
        for (int64_t dy = 0; dy < s; dy++)
          for (int64_t dx = 0; dx < s; dx++) acc += gy[(i * oh + y * s + dy) * ow + xq * s + dx];
        gx[(i * h + y) * w + xq] = acc;
      }
  return info.Env().Undefined();
}

void register_conv(Napi::Env env, Napi::Object exports) {
  exports.Set("conv2d", Napi::Function::New(env, Conv2d));
  exports.Set("conv2dGrad", Napi::Function::New(env, Conv2dGrad));
  exports.Set("avgPool2d", Napi::Function::New(env, AvgPool2d));
  exports.Set("avgPool2dGrad", Napi::Function::New(env, AvgPool2dGrad));
  exports.Set("upsampleNearest", Napi::Function::New(env, UpsampleNearest));
  exports.Set("upsampleNearestGrad", Napi::Function::New(env, UpsampleNearestGrad));
}

}  // namespace puma
