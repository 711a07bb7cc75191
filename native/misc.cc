// Embedding gather/scatter, fused cross-entropy, rotary embedding and the AdamW update.
#include "common.h"

namespace puma {

static Napi::Value Embedding(const Napi::CallbackInfo& info) {
  const float* w = f32(info[0]);
  const int32_t* ids = i32(info[1]);
  float* out = f32(info[2]);
  int64_t n = num(info[3]), dim = num(info[4]), rows = num(info[5]);
  for (int64_t i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= rows) {
      Napi::RangeError::New(info.Env(), "embedding: index " + std::to_string(ids[i]) + " out of range [0, " +
                                            std::to_string(rows) + ")").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
  }
#pragma omp parallel for schedule(static) if (n * dim > kParallelGrain)
  for (int64_t i = 0; i < n; i++) std::memcpy(out + i * dim, w + static_cast<int64_t>(ids[i]) * dim, dim * sizeof(float));
  return info.Env().Undefined();
}

static Napi::Value EmbeddingGrad(const Napi::CallbackInfo& info) {
  const float* gy = f32(info[0]);
  const int32_t* ids = i32(info[1]);
  float* gw = f32(info[2]);
  int64_t n = num(info[3]), dim = num(info[4]);
  // Columns are split across threads so rows with the same id never race.
#pragma omp parallel if (n * dim > kParallelGrain)
  {
    const int nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t c0 = dim * t / nt, c1 = dim * (t + 1) / nt;
    for (int64_t i = 0; i < n; i++) {
      float* d = gw + static_cast<int64_t>(ids[i]) * dim;
      const float* s = gy + i * dim;
#pragma omp simd
      for (int64_t j = c0; j < c1; j++) d[j] += s[j];
    }
  }
  return info.Env().Undefined();
}

static Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  const float* logits = f32(info[0]);
  const int32_t* targets = i32(info[1]);
  float* losses = f32(info[2]);
  float* lse = f32(info[3]);
  int64_t rows = num(info[4]), v = num(info[5]), ignore = num(info[6]);
  for (int64_t r = 0; r < rows; r++) {
    if (targets[r] != ignore && (targets[r] < 0 || targets[r] >= v)) {
      Napi::RangeError::New(info.Env(), "crossEntropy: target " + std::to_string(targets[r]) + " out of range [0, " +
                                            std::to_string(v) + ")").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
  }
#pragma omp parallel for schedule(static) if (rows * v > kParallelGrain)
  for (int64_t r = 0; r < rows; r++) {
    const float* p = logits + r * v;
    float mx = -INFINITY;
    for (int64_t j = 0; j < v; j++) mx = p[j] > mx ? p[j] : mx;
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < v; j++) s += masked_exp(p[j] - mx);
    const float l = mx + std::log(s);
    lse[r] = l;
    losses[r] = targets[r] == ignore ? 0.0f : l - p[targets[r]];
  }
  return info.Env().Undefined();
}

static Napi::Value CrossEntropyGrad(const Napi::CallbackInfo& info) {
  const float* logits = f32(info[0]);
  const int32_t* targets = i32(info[1]);
  const float* lse = f32(info[2]);
  float* g = f32(info[3]);
  int64_t rows = num(info[4]), v = num(info[5]), ignore = num(info[6]);
  const float scale = static_cast<float>(dbl(info[7]));
#pragma omp parallel for schedule(static) if (rows * v > kParallelGrain)
  for (int64_t r = 0; r < rows; r++) {
    float* q = g + r * v;
    const int32_t t = targets[r];
    if (t == ignore) {
      std::memset(q, 0, v * sizeof(float));
      continue;
    }
    const float* p = logits + r * v;
    const float l = lse[r];
#pragma omp simd
    for (int64_t j = 0; j < v; j++) q[j] = masked_exp(p[j] - l) * scale;
    q[t] -= scale;
  }
  return info.Env().Undefined();
}

static Napi::Value Rope(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const float* cs = f32(info[1]);
  const float* sn = f32(info[2]);
  float* out = f32(info[3]);
  int64_t rows = num(info[4]), t = num(info[5]), d = num(info[6]);
  const float sgn = flag(info[7]) ? -1.0f : 1.0f;
  const int64_t half = d / 2;
#pragma omp parallel for schedule(static) if (rows * t * d > kParallelGrain)
  for (int64_t rp = 0; rp < rows * t; rp++) {
    const int64_t p = rp % t;
    const float* a = x + rp * d;
    float* o = out + rp * d;
    const float* c = cs + p * half;
    const float* s = sn + p * half;
#pragma omp simd
    for (int64_t j = 0; j < half; j++) {
      const float x1 = a[j], x2 = a[half + j], sj = sgn * s[j];
      o[j] = x1 * c[j] - x2 * sj;
      o[half + j] = x2 * c[j] + x1 * sj;
    }
  }
  return info.Env().Undefined();
}

static Napi::Value AdamW(const Napi::CallbackInfo& info) {
  float* p = f32(info[0]);
  const float* g = f32(info[1]);
  float* m = f32(info[2]);
  float* v = f32(info[3]);
  int64_t n = num(info[4]);
  Napi::Object h = info[5].As<Napi::Object>();
  auto get = [&](const char* k) { return static_cast<float>(h.Get(k).As<Napi::Number>().DoubleValue()); };
  const float lr = get("lr"), b1 = get("beta1"), b2 = get("beta2"), eps = get("eps"), wd = get("weightDecay");
  const float bc1 = get("bc1"), bc2 = get("bc2");
  const float decay = 1.0f - lr * wd, step = lr / bc1, inv_bc2 = 1.0f / bc2;
  // 1 - beta in double: 1 - 0.999f in float32 is 1.3e-5 off 0.001 (PyTorch passes 1 - beta2 as a double).
  const double beta1 = h.Get("beta1").As<Napi::Number>().DoubleValue(), beta2 = h.Get("beta2").As<Napi::Number>().DoubleValue();
  const float one_m_b1 = static_cast<float>(1.0 - beta1), one_m_b2 = static_cast<float>(1.0 - beta2);
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i];
    m[i] = b1 * m[i] + one_m_b1 * gi;
    v[i] = b2 * v[i] + one_m_b2 * gi * gi;
    p[i] = p[i] * decay - step * m[i] / (std::sqrt(v[i] * inv_bc2) + eps);
  }
  return info.Env().Undefined();
}

void register_misc(Napi::Env env, Napi::Object exports) {
  exports.Set("embedding", Napi::Function::New(env, Embedding));
  exports.Set("embeddingGrad", Napi::Function::New(env, EmbeddingGrad));
  exports.Set("crossEntropy", Napi::Function::New(env, CrossEntropy));
  exports.Set("crossEntropyGrad", Napi::Function::New(env, CrossEntropyGrad));
  exports.Set("rope", Napi::Function::New(env, Rope));
  exports.Set("adamw", Napi::Function::New(env, AdamW));
}

}  // namespace puma
