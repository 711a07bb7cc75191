// Shared helpers of the puma native kernels: argument access, threading, vector math.
#pragma once
#include <napi.h>
#include <omp.h>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace puma {

inline float* f32(const Napi::Value& v) {
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  return v.As<Napi::Float32Array>().Data();
}
inline int32_t* i32(const Napi::Value& v) {
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  return v.As<Napi::Int32Array>().Data();
}
inline int64_t num(const Napi::Value& v) { return v.As<Napi::Number>().Int64Value(); }
inline double dbl(const Napi::Value& v) { return v.As<Napi::Number>().DoubleValue(); }
inline bool flag(const Napi::Value& v) { return v.As<Napi::Boolean>().Value(); }

// Work below this many elements runs on one thread: waking a second costs more than it saves.
constexpr int64_t kParallelGrain = 1 << 15;

// exp(x) for float with ~2 ulp error, written so GCC vectorises loops that call it
// (glibc's expf is not vectorised without -ffast-math, which would break -inf handling).
inline float fast_exp(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
  const float l2e = 1.44269504088896341f;
  float n = std::nearbyint(x * l2e);
  float r = x - n * 0.693145751953125f;
  r = r - n * 1.428606765330187045e-06f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return p * scale;
}
// exp that returns exactly 0 for -inf inputs (masked scores).
inline float masked_exp(float x) { return x == -INFINITY ? 0.0f : fast_exp(x); }

inline float sigmoidf(float x) { return 1.0f / (1.0f + fast_exp(-x)); }

// erf(x), Abramowitz & Stegun 7.1.26 refined (max abs error ~1.5e-7): vectorisable.
inline float fast_erf(float x) {
  float s = x < 0 ? -1.0f : 1.0f;
  float a = std::fabs(x);
  float t = 1.0f / (1.0f + 0.3275911f * a);
  float y = 1.0f - (((((1.061405429f * t - 1.453152027f) * t) + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t * fast_exp(-a * a);
  return s * y;
}

int num_threads();
// True when OpenBLAS is the OpenMP build: then a BLAS call inside our parallel regions runs
// single-threaded on its thread, so per-thread products do not oversubscribe the cores.
bool blas_is_openmp();

// C[i] = alpha op(A[i]) op(B[i]) + beta C[i] for i < batch (cblas_sgemm semantics, row-major,
// batch strides sa/sb/sc; a stride of 0 broadcasts A or B). oneDNN or OpenBLAS, float32 or
// bfloat16 operands (gemm.cc); inside an OpenMP parallel region always single-threaded OpenBLAS.
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, int64_t sa,
          const float* b, int64_t ldb, int64_t sb, float beta, float* c, int64_t ldc, int64_t sc, int64_t batch);
// One float32 product on OpenBLAS (single-threaded inside our parallel regions).
void sgemm_one(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
               const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
// True when gemm() here (outside a parallel region) runs oneDNN, which threads each product itself.
bool gemm_uses_dnnl();
bool gemm_bf16();
// True unless turned off (setGemm({ convDirect: false })): conv2d tries oneDNN's direct primitives.
bool conv_direct();

void register_gemm(Napi::Env env, Napi::Object exports);
void register_elementwise(Napi::Env env, Napi::Object exports);
void register_linalg(Napi::Env env, Napi::Object exports);
void register_norm(Napi::Env env, Napi::Object exports);
void register_conv(Napi::Env env, Napi::Object exports);
void register_attention(Napi::Env env, Napi::Object exports);
void register_misc(Napi::Env env, Napi::Object exports);

}  // namespace puma
