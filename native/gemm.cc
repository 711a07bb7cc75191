// Every matrix product of the addon except attention's goes through gemm() here. Two engines:
// - oneDNN's matmul primitive (AVX-512 JIT kernels), when the addon was built against it
//   (Debian libdnnl-dev) and the product is large enough to pay its call overhead;
// - OpenBLAS' cblas_sgemm otherwise (and inside our own parallel regions).
// Two precisions: float32, and bfloat16 operands with float32 accumulation and output (what
// PyTorch's CPU autocast does). In bfloat16 mode both engines round the operands to bfloat16
// (round to nearest even) first, so the result does not depend on which engine ran it, and the
// reference backend can compute the same numbers.
#include <cblas.h>
#include <memory>
#include <unordered_map>
#include "common.h"
#include "onednn.h"

namespace puma {

static bool g_bf16 = false;
#ifdef PUMA_HAVE_DNNL
static bool g_dnnl = true;
#else
static bool g_dnnl = false;
#endif

// Convolutions on oneDNN's direct primitives (conv_dnnl.cc) rather than im2col + gemm.
static bool g_conv_direct = true;

bool gemm_bf16() { return g_bf16; }
bool conv_direct() { return g_conv_direct; }

// Products run by each engine since load (reported by setGemm; tests and benchmarks read them).
static double g_dnnl_calls = 0, g_blas_calls = 0, g_dnnl_conv_calls = 0;

// Below this many multiply-adds (m n k, all batches) one cblas call beats a primitive call.
constexpr double kDnnlMinWork = 48.0 * 48 * 48;

// bfloat16 copies of an operand. An operand is copied as the span of memory its matrices lie in,
// with its own layout (transposed or not, its leading dim and batch stride), when that span is
// not much larger than the matrices themselves: a straight, vectorised conversion. Otherwise
// (a sparse view) it is packed dense and untransposed.
template <typename T>
static void round_span(const float* x, T* out, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= 4 * kParallelGrain && !omp_in_parallel())
  for (int64_t i = 0; i < n; i++) {
    uint32_t u;
    std::memcpy(&u, x + i, 4);
    const uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    const uint32_t h = (u & 0x7fffffffu) > 0x7f800000u ? ((u >> 16) | 0x40u) : r;
    if constexpr (sizeof(T) == 2) {
      out[i] = static_cast<uint16_t>(h);
    } else {
      const uint32_t v = h << 16;
      std::memcpy(out + i, &v, 4);
    }
  }
}

struct Operand {
  bool trans;
  int64_t ld, stride, batch;  // batch stride 0: one matrix, broadcast
};

// The stored extent of op(X) = [rows, cols] matrices, and whether to convert it as it lies.
static int64_t span_of(bool trans, int64_t rows, int64_t cols, int64_t ld, int64_t stride, int64_t batch) {
  const int64_t sr = trans ? cols : rows, sc = trans ? rows : cols;
  return (stride == 0 ? 0 : stride * (batch - 1)) + (sr - 1) * ld + sc;
}
static bool convert_as_is(bool trans, int64_t rows, int64_t cols, int64_t ld, int64_t stride, int64_t batch) {
  const int64_t nb = stride == 0 ? 1 : batch;
  return span_of(trans, rows, cols, ld, stride, batch) <= 2 * nb * rows * cols + 4096;
}

// Converts op(X) for a product; returns the layout of the copy in `out`.
template <typename T>
static Operand to_bf16(bool trans, int64_t rows, int64_t cols, const float* x, int64_t ld, int64_t stride,
                       int64_t batch, std::vector<T>& buf) {
  const int64_t nb = stride == 0 ? 1 : batch;
  if (convert_as_is(trans, rows, cols, ld, stride, batch)) {
    const int64_t n = span_of(trans, rows, cols, ld, stride, batch);
    if (buf.size() < static_cast<size_t>(n)) buf.resize(n);
    round_span(x, buf.data(), n);
    return {trans, ld, stride, batch};
  }
  if (buf.size() < static_cast<size_t>(nb * rows * cols)) buf.resize(nb * rows * cols);
  for (int64_t b = 0; b < nb; b++)
    for (int64_t r = 0; r < rows; r++) {
      const float* src = x + b * stride;
      for (int64_t c = 0; c < cols; c++) {
        const float v = trans ? src[c * ld + r] : src[r * ld + c];
        round_span(&v, buf.data() + (b * rows + r) * cols + c, 1);
      }
    }
  return {false, cols, stride == 0 ? 0 : rows * cols, batch};
}

static thread_local std::vector<float> tl_ra, tl_rb;
static thread_local std::vector<uint16_t> tl_ha, tl_hb;

// One float32 product on OpenBLAS (single-threaded inside our parallel regions). oneDNN's
// dnnl_sgemm was tried here (2x OpenBLAS' AVX2 kernels on single products in a microbenchmark)
// and dropped: with it a decoder training run under `node --cpu-prof` aborted with glibc heap
// corruption, reproducibly, and not without it; the cause was not found.
void sgemm_one(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
               const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda,
              b, ldb, beta, c, ldc);
}

static void cblas_batched(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                          int64_t lda, int64_t sa, const float* b, int64_t ldb, int64_t sb, float beta, float* c,
                          int64_t ldc, int64_t sc, int64_t batch) {
  if (g_bf16) {
    // Round both operands and multiply those.
    const Operand oa = to_bf16(ta, m, k, a, lda, sa, batch, tl_ra), ob = to_bf16(tb, k, n, b, ldb, sb, batch, tl_rb);
    a = tl_ra.data(); ta = oa.trans; lda = oa.ld; sa = oa.stride;
    b = tl_rb.data(); tb = ob.trans; ldb = ob.ld; sb = ob.stride;
  }
  const double flops = 2.0 * m * n * k;
  // Many small products (attention heads, per-image convs) run one per thread with
  // single-threaded BLAS; few large ones let OpenBLAS thread inside each product. Only the
  // OpenMP build of OpenBLAS runs single-threaded inside our parallel region.
  const bool per_thread = batch >= 2 && flops < 64.0 * 64 * 64 * 64 * 8 && blas_is_openmp() && !omp_in_parallel();
#pragma omp parallel for schedule(dynamic) if (per_thread)
  for (int64_t i = 0; i < batch; i++)
    sgemm_one(ta, tb, m, n, k, alpha, a + i * sa, lda, b + i * sb, ldb, beta, c + i * sc, ldc);
}

#ifdef PUMA_HAVE_DNNL
dnnl::engine& onednn_engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
dnnl::stream& onednn_stream() {
  static dnnl::stream s(onednn_engine());
  return s;
}
void count_dnnl_conv() { g_dnnl_conv_calls++; }

namespace {

struct Key {
  int64_t v[13];
  float alpha, beta;
  bool operator==(const Key& o) const {
    return std::memcmp(v, o.v, sizeof v) == 0 && alpha == o.alpha && beta == o.beta;
  }
};
struct KeyHash {
  size_t operator()(const Key& k) const {
    size_t h = 1469598103934665603ull;
    for (int64_t x : k.v) h = (h ^ static_cast<size_t>(x)) * 1099511628211ull;
    uint32_t a, b;
    std::memcpy(&a, &k.alpha, 4);
    std::memcpy(&b, &k.beta, 4);
    return (h ^ a) * 1099511628211ull ^ b;
  }
};
struct Entry {
  bool usable = false;  // false: only a reference implementation exists; use cblas
  dnnl::matmul prim;
  dnnl::memory::desc a, b, c;
};

dnnl::engine& eng() { return onednn_engine(); }
dnnl::stream& strm() { return onednn_stream(); }
std::unordered_map<Key, std::unique_ptr<Entry>, KeyHash> cache;
constexpr size_t kCacheMax = 4096;

// A [batch, rows, cols] descriptor of op(X) with X's strides; a batch stride of 0 broadcasts.
dnnl::memory::desc matrix_desc(bool trans, int64_t rows, int64_t cols, int64_t ld, int64_t stride, int64_t batch,
                               dnnl::memory::data_type dt) {
  const int64_t nb = stride == 0 ? 1 : batch;
  dnnl::memory::dims strides = trans ? dnnl::memory::dims{stride == 0 ? rows * cols : stride, 1, ld}
                                     : dnnl::memory::dims{stride == 0 ? rows * cols : stride, ld, 1};
  return dnnl::memory::desc({nb, rows, cols}, dt, strides);
}

Entry* lookup(const Key& key, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, int64_t lda,
              int64_t sa, int64_t ldb, int64_t sb, float beta, int64_t ldc, int64_t sc, int64_t batch) {
  auto it = cache.find(key);
  if (it != cache.end()) return it->second.get();
  if (cache.size() >= kCacheMax) cache.clear();
  auto e = std::make_unique<Entry>();
  try {
    using dt = dnnl::memory::data_type;
    if (g_bf16) {  // the copies' layouts, as to_bf16 will make them
      if (convert_as_is(ta, m, k, lda, sa, batch)) e->a = matrix_desc(ta, m, k, lda, sa, batch, dt::bf16);
      else e->a = matrix_desc(false, m, k, k, sa == 0 ? 0 : m * k, batch, dt::bf16);
      if (convert_as_is(tb, k, n, ldb, sb, batch)) e->b = matrix_desc(tb, k, n, ldb, sb, batch, dt::bf16);
      else e->b = matrix_desc(false, k, n, n, sb == 0 ? 0 : k * n, batch, dt::bf16);
    } else {
      e->a = matrix_desc(ta, m, k, lda, sa, batch, dt::f32);
      e->b = matrix_desc(tb, k, n, ldb, sb, batch, dt::f32);
    }
    e->c = dnnl::memory::desc({batch, m, n}, dt::f32, dnnl::memory::dims{batch == 1 ? m * n : sc, ldc, 1});
    dnnl::primitive_attr attr;
    if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
    if (beta != 0.0f) {
      dnnl::post_ops po;
      po.append_sum(beta);
      attr.set_post_ops(po);
    }
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(e->a, e->b, e->c), attr, eng());
    if (!is_reference_impl(pd)) {
      e->prim = dnnl::matmul(pd);
      e->usable = true;
    }
  } catch (const dnnl::error&) {
    e->usable = false;
  }
  Entry* p = e.get();
  cache.emplace(key, std::move(e));
  return p;
}

}  // namespace

static bool dnnl_batched(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                         int64_t lda, int64_t sa, const float* b, int64_t ldb, int64_t sb, float beta, float* c,
                         int64_t ldc, int64_t sc, int64_t batch) {
  if (batch > 1 && sc == 0) return false;
  if (batch == 1) sa = sb = sc = 0;
  const Key key{{ta, tb, m, n, k, lda, sa, ldb, sb, ldc, sc, batch, g_bf16}, alpha, beta};
  Entry* e = lookup(key, ta, tb, m, n, k, alpha, lda, sa, ldb, sb, beta, ldc, sc, batch);
  if (!e->usable) return false;
  void* pa = const_cast<float*>(a);
  void* pb = const_cast<float*>(b);
  if (g_bf16) {
    to_bf16(ta, m, k, a, lda, sa, batch, tl_ha);
    to_bf16(tb, k, n, b, ldb, sb, batch, tl_hb);
    pa = tl_ha.data();
    pb = tl_hb.data();
  }
  try {
    dnnl::memory ma(e->a, eng(), pa), mb(e->b, eng(), pb), mc(e->c, eng(), c);
    e->prim.execute(strm(), {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}});
    strm().wait();
  } catch (const dnnl::error&) {
    return false;  // nothing was written before a failure to execute
  }
  return true;
}
#endif

bool gemm_uses_dnnl() {
#ifdef PUMA_HAVE_DNNL
  return g_dnnl && !omp_in_parallel();
#else
  return false;
#endif
}

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, int64_t sa,
          const float* b, int64_t ldb, int64_t sb, float beta, float* c, int64_t ldc, int64_t sc, int64_t batch) {
  if (m <= 0 || n <= 0 || batch <= 0) return;
#ifdef PUMA_HAVE_DNNL
  if (k > 0 && gemm_uses_dnnl() && static_cast<double>(m) * n * k * batch >= kDnnlMinWork &&
      dnnl_batched(ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch)) {
    g_dnnl_calls++;
    return;
  }
#endif
  if (!omp_in_parallel()) g_blas_calls++;  // (not counted per thread inside our parallel loops)
  cblas_batched(ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
}

// setGemm({ dnnl?: boolean, bf16?: boolean, convDirect?: boolean }); returns { dnnlBuilt, dnnl,
// bf16, convDirect, dnnlCalls, blasCalls, dnnlConvCalls } (dnnlConvCalls: convolution passes on
// oneDNN's direct primitives, conv_dnnl.cc).
static Napi::Value SetGemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() > 0 && info[0].IsObject()) {
    Napi::Object o = info[0].As<Napi::Object>();
#ifdef PUMA_HAVE_DNNL
    if (o.Has("dnnl")) g_dnnl = o.Get("dnnl").ToBoolean().Value();
#endif
    if (o.Has("bf16")) g_bf16 = o.Get("bf16").ToBoolean().Value();
    if (o.Has("convDirect")) g_conv_direct = o.Get("convDirect").ToBoolean().Value();
  }
  Napi::Object r = Napi::Object::New(env);
#ifdef PUMA_HAVE_DNNL
  r.Set("dnnlBuilt", true);
#else
  r.Set("dnnlBuilt", false);
#endif
  r.Set("dnnl", g_dnnl);
  r.Set("bf16", g_bf16);
  r.Set("convDirect", g_conv_direct);
  r.Set("dnnlCalls", g_dnnl_calls);
  r.Set("blasCalls", g_blas_calls);
  r.Set("dnnlConvCalls", g_dnnl_conv_calls);
  return r;
}

void register_gemm(Napi::Env env, Napi::Object exports) {
  exports.Set("setGemm", Napi::Function::New(env, SetGemm));
}

}  // namespace puma
