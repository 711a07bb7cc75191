// Softmax and the normalisation layers (LayerNorm, RMSNorm, GroupNorm), forward and backward.
#include "common.h"

namespace puma {

static Napi::Value Softmax(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  float* y = f32(info[1]);
  int64_t rows = num(info[2]), cols = num(info[3]);
  bool log = flag(info[4]);
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; r++) {
    const float* p = x + r * cols;
    float* q = y + r * cols;
    float mx = -INFINITY;
    for (int64_t j = 0; j < cols; j++) mx = p[j] > mx ? p[j] : mx;
    float s = 0;
    if (log) {
#pragma omp simd reduction(+ : s)
      for (int64_t j = 0; j < cols; j++) s += masked_exp(p[j] - mx);
      float lse = mx + std::log(s);
#pragma omp simd
      for (int64_t j = 0; j < cols; j++) q[j] = p[j] - lse;
    } else {
#pragma omp simd reduction(+ : s)
      for (int64_t j = 0; j < cols; j++) {
        q[j] = masked_exp(p[j] - mx);
        s += q[j];
      }
      float inv = 1.0f / s;
#pragma omp simd
      for (int64_t j = 0; j < cols; j++) q[j] *= inv;
    }
  }
  return info.Env().Undefined();
}

static Napi::Value SoftmaxGrad(const Napi::CallbackInfo& info) {
  const float* y = f32(info[0]);
  const float* gy = f32(info[1]);
  float* gx = f32(info[2]);
  int64_t rows = num(info[3]), cols = num(info[4]);
  bool log = flag(info[5]);
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; r++) {
    const float *py = y + r * cols, *pg = gy + r * cols;
    float* q = gx + r * cols;
    float s = 0;
    if (log) {
#pragma omp simd reduction(+ : s)
      for (int64_t j = 0; j < cols; j++) s += pg[j];
#pragma omp simd
      for (int64_t j = 0; j < cols; j++) q[j] = pg[j] - fast_exp(py[j]) * s;
    } else {
#pragma omp simd reduction(+ : s)
      for (int64_t j = 0; j < cols; j++) s += pg[j] * py[j];
#pragma omp simd
      for (int64_t j = 0; j < cols; j++) q[j] = py[j] * (pg[j] - s);
    }
  }
  return info.Env().Undefined();
}

// Sums per-thread partial column sums of [threads, cols] into dst.
static void reduce_partials(const std::vector<float>& part, int nt, int64_t cols, float* dst) {
  if (!dst) return;
  for (int64_t j = 0; j < cols; j++) {
    float s = 0;
    for (int t = 0; t < nt; t++) s += part[t * cols + j];
    dst[j] = s;
  }
}

static Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const float* w = f32(info[1]);
  const float* b = f32(info[2]);
  float* y = f32(info[3]);
  float* mean = f32(info[4]);
  float* rstd = f32(info[5]);
  int64_t rows = num(info[6]), cols = num(info[7]);
  float eps = static_cast<float>(dbl(info[8]));
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; r++) {
    const float* p = x + r * cols;
    float* q = y + r * cols;
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < cols; j++) s += p[j];
    float mu = s / cols, v = 0;
#pragma omp simd reduction(+ : v)
    for (int64_t j = 0; j < cols; j++) v += (p[j] - mu) * (p[j] - mu);
    float rs = 1.0f / std::sqrt(v / cols + eps);
    mean[r] = mu;
    rstd[r] = rs;
#pragma omp simd
    for (int64_t j = 0; j < cols; j++) q[j] = (p[j] - mu) * rs * (w ? w[j] : 1.0f) + (b ? b[j] : 0.0f);
  }
  return info.Env().Undefined();
}

static Napi::Value LayerNormGrad(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const float* w = f32(info[1]);
  const float* mean = f32(info[2]);
  const float* rstd = f32(info[3]);
  const float* gy = f32(info[4]);
  float* gx = f32(info[5]);
  float* gw = f32(info[6]);
  float* gb = f32(info[7]);
  int64_t rows = num(info[8]), cols = num(info[9]);
  int nt = num_threads();
  std::vector<float> pw(gw ? nt * cols : 0, 0.0f), pb(gb ? nt * cols : 0, 0.0f);
#pragma omp parallel num_threads(nt)
  {
    int t = omp_get_thread_num();
    float* aw = gw ? pw.data() + t * cols : nullptr;
    float* ab = gb ? pb.data() + t * cols : nullptr;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const float *p = x + r * cols, *g = gy + r * cols;
      float* q = gx + r * cols;
      const float mu = mean[r], rs = rstd[r];
      float s1 = 0, s2 = 0;
#pragma omp simd reduction(+ : s1, s2)
      for (int64_t j = 0; j < cols; j++) {
        float xh = (p[j] - mu) * rs, gg = g[j] * (w ? w[j] : 1.0f);
        s1 += gg;
        s2 += gg * xh;
      }
      s1 /= cols;
      s2 /= cols;
#pragma omp simd
      for (int64_t j = 0; j < cols; j++) {
        float xh = (p[j] - mu) * rs, gg = g[j] * (w ? w[j] : 1.0f);
        q[j] = rs * (gg - s1 - xh * s2);
        if (aw) aw[j] += g[j] * xh;
        if (ab) ab[j] += g[j];
      }
    }
  }
  reduce_partials(pw, nt, cols, gw);
  reduce_partials(pb, nt, cols, gb);
  return info.Env().Undefined();
}

static Napi::Value RmsNorm(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const float* w = f32(info[1]);
  float* y = f32(info[2]);
  float* rstd = f32(info[3]);
  int64_t rows = num(info[4]), cols = num(info[5]);
  float eps = static_cast<float>(dbl(info[6]));
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; r++) {
    const float* p = x + r * cols;
    float* q = y + r * cols;
    float ss = 0;
#pragma omp simd reduction(+ : ss)
    for (int64_t j = 0; j < cols; j++) ss += p[j] * p[j];
    float rs = 1.0f / std::sqrt(ss / cols + eps);
    rstd[r] = rs;
#pragma omp simd
    for (int64_t j = 0; j < cols; j++) q[j] = p[j] * rs * (w ? w[j] : 1.0f);
  }
  return info.Env().Undefined();
}

static Napi::Value RmsNormGrad(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const float* w = f32(info[1]);
  const float* rstd = f32(info[2]);
  const float* gy = f32(info[3]);
  float* gx = f32(info[4]);
  float* gw = f32(info[5]);
  int64_t rows = num(info[6]), cols = num(info[7]);
  int nt = num_threads();
  std::vector<float> pw(gw ? nt * cols : 0, 0.0f);
#pragma omp parallel num_threads(nt)
  {
    int t = omp_get_thread_num();
    float* aw = gw ? pw.data() + t * cols : nullptr;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const float *p = x + r * cols, *g = gy + r * cols;
      float* q = gx + r * cols;
      const float rs = rstd[r];
      float s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t j = 0; j < cols; j++) s += g[j] * (w ? w[j] : 1.0f) * p[j];
      const float c = rs * rs * rs * s / cols;
#pragma omp simd
      for (int64_t j = 0; j < cols; j++) {
        q[j] = rs * g[j] * (w ? w[j] : 1.0f) - c * p[j];
        if (aw) aw[j] += g[j] * p[j] * rs;
      }
    }
  }
  reduce_partials(pw, nt, cols, gw);
  return info.Env().Undefined();
}

static Napi::Value GroupNorm(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const float* w = f32(info[1]);
  const float* b = f32(info[2]);
  float* y = f32(info[3]);
  float* mean = f32(info[4]);
  float* rstd = f32(info[5]);
  int64_t n = num(info[6]), c = num(info[7]), hw = num(info[8]), groups = num(info[9]);
  float eps = static_cast<float>(dbl(info[10]));
  const int64_t cpg = c / groups, len = cpg * hw;
#pragma omp parallel for schedule(static) if (n * c * hw > kParallelGrain)
  for (int64_t ng = 0; ng < n * groups; ng++) {
    const int64_t i = ng / groups, g = ng % groups;
    const float* p = x + (i * c + g * cpg) * hw;
    float* q = y + (i * c + g * cpg) * hw;
    double s = 0;
    for (int64_t j = 0; j < len; j++) s += p[j];
    const float mu = static_cast<float>(s / len);
    double v = 0;
    for (int64_t j = 0; j < len; j++) v += (p[j] - mu) * (p[j] - mu);
    const float rs = static_cast<float>(1.0 / std::sqrt(v / len + eps));
    mean[ng] = mu;
    rstd[ng] = rs;
    for (int64_t cc = 0; cc < cpg; cc++) {
      const int64_t ch = g * cpg + cc;
      const float sc = (w ? w[ch] : 1.0f) * rs, sh = (b ? b[ch] : 0.0f) - mu * sc;
#pragma omp simd
      for (int64_t j = 0; j < hw; j++) q[cc * hw + j] = p[cc * hw + j] * sc + sh;
    }
  }
  return info.Env().Undefined();
}

static Napi::Value GroupNormGrad(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const float* w = f32(info[1]);
  const float* mean = f32(info[2]);
  const float* rstd = f32(info[3]);
  const float* gy = f32(info[4]);
  float* gx = f32(info[5]);
  float* gw = f32(info[6]);
  float* gb = f32(info[7]);
  int64_t n = num(info[8]), c = num(info[9]), hw = num(info[10]), groups = num(info[11]);
  const int64_t cpg = c / groups, len = cpg * hw;
  // Per-(sample, channel) sums of gy * xhat and gy; reduced over samples at the end.
  std::vector<float> sw(n * c), sb(n * c);
#pragma omp parallel for schedule(static) if (n * c * hw > kParallelGrain)
  for (int64_t ng = 0; ng < n * groups; ng++) {
    const int64_t i = ng / groups, g = ng % groups;
    const float mu = mean[ng], rs = rstd[ng];
    float s1 = 0, s2 = 0;
    for (int64_t cc = 0; cc < cpg; cc++) {
      const int64_t ch = g * cpg + cc, base = (i * c + ch) * hw;
      const float sc = w ? w[ch] : 1.0f;
      float a = 0, bsum = 0;
#pragma omp simd reduction(+ : a, bsum)
      for (int64_t j = 0; j < hw; j++) {
        float xh = (x[base + j] - mu) * rs;
        a += gy[base + j] * xh;
        bsum += gy[base + j];
      }
      sw[i * c + ch] = a;
      sb[i * c + ch] = bsum;
      s1 += bsum * sc;
      s2 += a * sc;
    }
    s1 /= len;
    s2 /= len;
    for (int64_t cc = 0; cc < cpg; cc++) {
      const int64_t ch = g * cpg + cc, base = (i * c + ch) * hw;
      const float sc = w ? w[ch] : 1.0f;
#pragma omp simd
      for (int64_t j = 0; j < hw; j++) {
        float xh = (x[base + j] - mu) * rs;
        gx[base + j] = rs * (gy[base + j] * sc - s1 - xh * s2);
      }
    }
  }
  for (int64_t ch = 0; ch < c; ch++) {
    float a = 0, bsum = 0;
    for (int64_t i = 0; i < n; i++) { a += sw[i * c + ch]; bsum += sb[i * c + ch]; }
    if (gw) gw[ch] = a;
    if (gb) gb[ch] = bsum;
  }
  return info.Env().Undefined();
}

void register_norm(Napi::Env env, Napi::Object exports) {
  exports.Set("softmax", Napi::Function::New(env, Softmax));
  exports.Set("softmaxGrad", Napi::Function::New(env, SoftmaxGrad));
  exports.Set("layerNorm", Napi::Function::New(env, LayerNorm));
  exports.Set("layerNormGrad", Napi::Function::New(env, LayerNormGrad));
  exports.Set("rmsNorm", Napi::Function::New(env, RmsNorm));
  exports.Set("rmsNormGrad", Napi::Function::New(env, RmsNormGrad));
  exports.Set("groupNorm", Napi::Function::New(env, GroupNorm));
  exports.Set("groupNormGrad", Napi::Function::New(env, GroupNormGrad));
}

}  // namespace puma
