// Matrix products on OpenBLAS' cblas_sgemm, batched with strides.
#include <cblas.h>
#include "common.h"


namespace puma {

// Batched sgemm. Many small products (attention heads, per-image convs) run one per thread
// with single-threaded BLAS; few large ones let OpenBLAS thread inside each product.
void sgemm_batched(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, int64_t sa,
                   const float* b, int ldb, int64_t sb, float beta, float* c, int ldc, int64_t sc, int batch) {
  const CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
  const double flops = 2.0 * m * n * k;
  // Only the OpenMP build of OpenBLAS runs single-threaded inside our parallel region.
  const bool per_thread = batch >= 2 && flops < 64.0 * 64 * 64 * 64 * 8 && blas_is_openmp();
  if (per_thread) {
#pragma omp parallel for schedule(dynamic)
    for (int i = 0; i < batch; i++)
      cblas_sgemm(CblasRowMajor, TA, TB, m, n, k, alpha, a + i * sa, lda, b + i * sb, ldb, beta, c + i * sc, ldc);
  } else {
    for (int i = 0; i < batch; i++)
      cblas_sgemm(CblasRowMajor, TA, TB, m, n, k, alpha, a + i * sa, lda, b + i * sb, ldb, beta, c + i * sc, ldc);
  }
}

static Napi::Value Gemm(const Napi::CallbackInfo& info) {
  bool ta = flag(info[0]), tb = flag(info[1]);
  int m = static_cast<int>(num(info[2])), n = static_cast<int>(num(info[3])), k = static_cast<int>(num(info[4]));
  float alpha = static_cast<float>(dbl(info[5]));
  const float* a = f32(info[6]) + num(info[7]);
  int lda = static_cast<int>(num(info[8]));
  int64_t sa = num(info[9]);
  const float* b = f32(info[10]) + num(info[11]);
  int ldb = static_cast<int>(num(info[12]));
  int64_t sb = num(info[13]);
  float beta = static_cast<float>(dbl(info[14]));
  float* c = f32(info[15]) + num(info[16]);
  int ldc = static_cast<int>(num(info[17]));
  int64_t sc = num(info[18]);
  int batch = static_cast<int>(num(info[19]));
  sgemm_batched(ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
  return info.Env().Undefined();
}

void register_linalg(Napi::Env env, Napi::Object exports) {
  exports.Set("gemm", Napi::Function::New(env, Gemm));
}

}  // namespace puma
