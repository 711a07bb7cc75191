// The batched matrix product kernel (engine choice and precision: gemm.cc).
#include "common.h"


namespace puma {

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
  gemm(ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
  return info.Env().Undefined();
}

void register_linalg(Napi::Env env, Napi::Object exports) {
  exports.Set("gemm", Napi::Function::New(env, Gemm));
}

}  // namespace puma
