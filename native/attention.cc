// Fused scaled dot-product attention, forward and backward, in the manner of FlashAttention:
// per (batch, head) and per block of queries, scores are computed into a small per-thread
// buffer, softmaxed and multiplied by V; only the row log-sum-exp is kept for backward, which
// recomputes the scores. The [B, H, Tq, Tk] attention matrix never exists.
#include "common.h"

namespace puma {

constexpr int64_t kBlockQ = 64;

struct Attn {
  int64_t b, h, hkv, tq, tk, d, dv;
  float scale;
  bool causal;
};

static Attn geometry(const Napi::Value& v) {
  Napi::Object g = v.As<Napi::Object>();
  auto get = [&](const char* k) { return static_cast<int64_t>(g.Get(k).As<Napi::Number>().Int64Value()); };
  return Attn{get("b"), get("h"), get("hkv"), get("tq"), get("tk"), get("d"), get("dv"),
              static_cast<float>(g.Get("scale").As<Napi::Number>().DoubleValue()),
              g.Get("causal").As<Napi::Boolean>().Value()};
}

struct Mask {
  const float* p = nullptr;
  int64_t sb = 0, sh = 0, si = 0, sj = 0;
};

static Mask mask_of(const Napi::Value& m, const Napi::Value& off, const Napi::Value& strides) {
  Mask mk;
  if (m.IsNull() || m.IsUndefined()) return mk;
  const int32_t* s = i32(strides);
  mk.p = f32(m) + num(off);
  mk.sb = s[0]; mk.sh = s[1]; mk.si = s[2]; mk.sj = s[3];
  return mk;
}

// Number of keys visible to any query of rows [i0, i0 + bq): causal lets query i see keys
// j <= i + tk - tq (PyTorch's alignment when tq <= tk, as in KV-cache decoding).
static inline int64_t key_limit(const Attn& g, int64_t i0, int64_t bq) {
  if (!g.causal) return g.tk;
  int64_t lim = i0 + bq + g.tk - g.tq;
  return lim < 0 ? 0 : (lim > g.tk ? g.tk : lim);
}

// S [bq, kend] = scale * Q_blk @ K^T + mask, with causal -inf; returns nothing.
static void scores(const Attn& g, const Mask& mk, int64_t b, int64_t h, int64_t i0, int64_t bq, int64_t kend,
                   const float* Q, const float* K, float* S) {
  sgemm_one(false, true, bq, kend, g.d, g.scale, Q + i0 * g.d, g.d, K, g.d, 0.0f, S,
              kend);
  for (int64_t r = 0; r < bq; r++) {
    float* s = S + r * kend;
    const int64_t i = i0 + r;
    if (mk.p) {
      const float* m = mk.p + b * mk.sb + h * mk.sh + i * mk.si;
      for (int64_t j = 0; j < kend; j++) s[j] += m[j * mk.sj];
    }
    if (g.causal) {
      const int64_t last = i + g.tk - g.tq;
      for (int64_t j = last + 1 < 0 ? 0 : last + 1; j < kend; j++) s[j] = -INFINITY;
    }
  }
}

static thread_local std::vector<float> tl_s, tl_dp;

static Napi::Value Attention(const Napi::CallbackInfo& info) {
  const float* q = f32(info[0]);
  const float* k = f32(info[1]);
  const float* v = f32(info[2]);
  const Mask mk = mask_of(info[3], info[4], info[5]);
  float* out = f32(info[6]);
  float* lse = f32(info[7]);
  const Attn g = geometry(info[8]);
  const int64_t group = g.h / g.hkv, tasks = g.b * g.h;
  const bool par = tasks >= num_threads() && blas_is_openmp();
#pragma omp parallel for schedule(dynamic) if (par)
  for (int64_t t = 0; t < tasks; t++) {
    const int64_t b = t / g.h, h = t % g.h, kvh = h / group;
    const float* Q = q + (b * g.h + h) * g.tq * g.d;
    const float* K = k + (b * g.hkv + kvh) * g.tk * g.d;
    const float* V = v + (b * g.hkv + kvh) * g.tk * g.dv;
    float* O = out + (b * g.h + h) * g.tq * g.dv;
    float* L = lse + (b * g.h + h) * g.tq;
    if (tl_s.size() < static_cast<size_t>(kBlockQ * g.tk)) tl_s.resize(kBlockQ * g.tk);
    float* S = tl_s.data();
    for (int64_t i0 = 0; i0 < g.tq; i0 += kBlockQ) {
      const int64_t bq = std::min(kBlockQ, g.tq - i0), kend = key_limit(g, i0, bq);
      if (kend == 0) {
        std::memset(O + i0 * g.dv, 0, bq * g.dv * sizeof(float));
        for (int64_t r = 0; r < bq; r++) L[i0 + r] = -INFINITY;
        continue;
      }
      scores(g, mk, b, h, i0, bq, kend, Q, K, S);
      for (int64_t r = 0; r < bq; r++) {
        float* s = S + r * kend;
        float mx = -INFINITY;
        for (int64_t j = 0; j < kend; j++) mx = s[j] > mx ? s[j] : mx;
        if (mx == -INFINITY) {  // every key masked: the row outputs zeros
          std::memset(s, 0, kend * sizeof(float));
          L[i0 + r] = -INFINITY;
          continue;
        }
        float sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int64_t j = 0; j < kend; j++) {
          s[j] = masked_exp(s[j] - mx);
          sum += s[j];
        }
        const float inv = 1.0f / sum;
#pragma omp simd
        for (int64_t j = 0; j < kend; j++) s[j] *= inv;
        L[i0 + r] = mx + std::log(sum);
      }
      sgemm_one(false, false, bq, g.dv, kend, 1.0f, S, kend, V, g.dv, 0.0f,
                  O + i0 * g.dv, g.dv);
    }
  }
  return info.Env().Undefined();
}

static Napi::Value AttentionGrad(const Napi::CallbackInfo& info) {
  const float* q = f32(info[0]);
  const float* k = f32(info[1]);
  const float* v = f32(info[2]);
  const Mask mk = mask_of(info[3], info[4], info[5]);
  const float* out = f32(info[6]);
  const float* lse = f32(info[7]);
  const float* gout = f32(info[8]);
  float* gq = f32(info[9]);
  float* gk = f32(info[10]);
  float* gv = f32(info[11]);
  const Attn g = geometry(info[12]);
  const int64_t group = g.h / g.hkv, tasks = g.b * g.hkv;
  const bool par = tasks >= num_threads() && blas_is_openmp();
  // Tasks are (batch, kv head): the query heads sharing a kv head accumulate into its gK, gV.
#pragma omp parallel for schedule(dynamic) if (par)
  for (int64_t t = 0; t < tasks; t++) {
    const int64_t b = t / g.hkv, kvh = t % g.hkv;
    const float* K = k + (b * g.hkv + kvh) * g.tk * g.d;
    const float* V = v + (b * g.hkv + kvh) * g.tk * g.dv;
    float* GK = gk + (b * g.hkv + kvh) * g.tk * g.d;
    float* GV = gv + (b * g.hkv + kvh) * g.tk * g.dv;
    std::memset(GK, 0, g.tk * g.d * sizeof(float));
    std::memset(GV, 0, g.tk * g.dv * sizeof(float));
    if (tl_s.size() < static_cast<size_t>(kBlockQ * g.tk)) tl_s.resize(kBlockQ * g.tk);
    if (tl_dp.size() < static_cast<size_t>(kBlockQ * g.tk)) tl_dp.resize(kBlockQ * g.tk);
    float* S = tl_s.data();
    float* DP = tl_dp.data();
    for (int64_t h = kvh * group; h < (kvh + 1) * group; h++) {
      const float* Q = q + (b * g.h + h) * g.tq * g.d;
      const float* O = out + (b * g.h + h) * g.tq * g.dv;
      const float* GO = gout + (b * g.h + h) * g.tq * g.dv;
      const float* L = lse + (b * g.h + h) * g.tq;
      float* GQ = gq + (b * g.h + h) * g.tq * g.d;
      for (int64_t i0 = 0; i0 < g.tq; i0 += kBlockQ) {
        const int64_t bq = std::min(kBlockQ, g.tq - i0), kend = key_limit(g, i0, bq);
        if (kend == 0) {
          std::memset(GQ + i0 * g.d, 0, bq * g.d * sizeof(float));
          continue;
        }
        scores(g, mk, b, h, i0, bq, kend, Q, K, S);
        // dP [bq, kend] = dO_blk @ V^T
        sgemm_one(false, true, bq, kend, g.dv, 1.0f, GO + i0 * g.dv, g.dv, V, g.dv,
                    0.0f, DP, kend);
        for (int64_t r = 0; r < bq; r++) {
          float* s = S + r * kend;
          float* dp = DP + r * kend;
          const float l = L[i0 + r];
          const float* o = O + (i0 + r) * g.dv;
          const float* go = GO + (i0 + r) * g.dv;
          float D = 0;
          for (int64_t p = 0; p < g.dv; p++) D += go[p] * o[p];
          if (l == -INFINITY) {
            std::memset(s, 0, kend * sizeof(float));
            std::memset(dp, 0, kend * sizeof(float));
            continue;
          }
#pragma omp simd
          for (int64_t j = 0; j < kend; j++) {
            const float pj = masked_exp(s[j] - l);  // P
            s[j] = pj;
            dp[j] = pj * (dp[j] - D) * g.scale;  // dS, scale folded in
          }
        }
        // dV += P^T @ dO_blk ; dQ_blk = dS @ K ; dK += dS^T @ Q_blk
        sgemm_one(true, false, kend, g.dv, bq, 1.0f, S, kend, GO + i0 * g.dv, g.dv,
                    1.0f, GV, g.dv);
        sgemm_one(false, false, bq, g.d, kend, 1.0f, DP, kend, K, g.d, 0.0f,
                    GQ + i0 * g.d, g.d);
        sgemm_one(true, false, kend, g.d, bq, 1.0f, DP, kend, Q + i0 * g.d, g.d, 1.0f,
                    GK, g.d);
      }
    }
  }
  return info.Env().Undefined();
}

void register_attention(Napi::Env env, Napi::Object exports) {
  exports.Set("attention", Napi::Function::New(env, Attention));
  exports.Set("attentionGrad", Napi::Function::New(env, AttentionGrad));
}

}  // namespace puma
