// Element-wise, strided copy and reduction kernels. Op codes are indices into UNARY_OPS,
// BINARY_OPS and REDUCE_OPS of src/backend/backend.ts.
#include "common.h"

namespace puma {

enum Unary { NEG, EXP, LOG, SQRT, RSQRT, TANH, SIGMOID, ABS, RELU, GELU, GELU_TANH, QUICK_GELU,
             SILU, POW_SCALAR, CLAMP, AFFINE, SIN, COS, SQUARE, RECIPROCAL };
enum Binary { ADD, SUB, MUL, DIV, POW, MAXIMUM, MINIMUM, EQ, NE, LT, LE, GT, GE };

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;

template <typename F>
static void map_n(int64_t n, F f) {
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; i++) f(i);
}

static void unary(int op, const float* x, float* y, int64_t n, float p0, float p1) {
  switch (op) {
    case NEG: map_n(n, [=](int64_t i) { y[i] = -x[i]; }); break;
    case EXP: map_n(n, [=](int64_t i) { y[i] = std::exp(x[i]); }); break;
    case LOG: map_n(n, [=](int64_t i) { y[i] = std::log(x[i]); }); break;
    case SQRT: map_n(n, [=](int64_t i) { y[i] = std::sqrt(x[i]); }); break;
    case RSQRT: map_n(n, [=](int64_t i) { y[i] = 1.0f / std::sqrt(x[i]); }); break;
    case TANH: map_n(n, [=](int64_t i) { y[i] = std::tanh(x[i]); }); break;
    case SIGMOID: map_n(n, [=](int64_t i) { y[i] = sigmoidf(x[i]); }); break;
    case ABS: map_n(n, [=](int64_t i) { y[i] = std::fabs(x[i]); }); break;
    case RELU: map_n(n, [=](int64_t i) { y[i] = x[i] > 0 ? x[i] : 0.0f; }); break;
    case GELU: map_n(n, [=](int64_t i) { y[i] = 0.5f * x[i] * (1.0f + fast_erf(x[i] * kInvSqrt2)); }); break;
    case GELU_TANH:
      map_n(n, [=](int64_t i) {
        float v = x[i], u = kSqrt2OverPi * (v + 0.044715f * v * v * v);
        float t = 2.0f * sigmoidf(2.0f * u) - 1.0f;
        y[i] = 0.5f * v * (1.0f + t);
      });
      break;
    case QUICK_GELU: map_n(n, [=](int64_t i) { y[i] = x[i] * sigmoidf(1.702f * x[i]); }); break;
    case SILU: map_n(n, [=](int64_t i) { y[i] = x[i] * sigmoidf(x[i]); }); break;
    case POW_SCALAR: map_n(n, [=](int64_t i) { y[i] = std::pow(x[i], p0); }); break;
    case CLAMP: map_n(n, [=](int64_t i) { float v = x[i]; y[i] = v < p0 ? p0 : (v > p1 ? p1 : v); }); break;
    case AFFINE: map_n(n, [=](int64_t i) { y[i] = p0 * x[i] + p1; }); break;
    case SIN: map_n(n, [=](int64_t i) { y[i] = std::sin(x[i]); }); break;
    case COS: map_n(n, [=](int64_t i) { y[i] = std::cos(x[i]); }); break;
    case SQUARE: map_n(n, [=](int64_t i) { y[i] = x[i] * x[i]; }); break;
    case RECIPROCAL: map_n(n, [=](int64_t i) { y[i] = 1.0f / x[i]; }); break;
  }
}

static void unary_grad(int op, const float* x, const float* y, const float* gy, float* gx, int64_t n, float p0, float p1) {
  switch (op) {
    case NEG: map_n(n, [=](int64_t i) { gx[i] = -gy[i]; }); break;
    case EXP: map_n(n, [=](int64_t i) { gx[i] = gy[i] * y[i]; }); break;
    case LOG: map_n(n, [=](int64_t i) { gx[i] = gy[i] / x[i]; }); break;
    case SQRT: map_n(n, [=](int64_t i) { gx[i] = gy[i] * 0.5f / y[i]; }); break;
    case RSQRT: map_n(n, [=](int64_t i) { gx[i] = gy[i] * -0.5f * y[i] * y[i] * y[i]; }); break;
    case TANH: map_n(n, [=](int64_t i) { gx[i] = gy[i] * (1.0f - y[i] * y[i]); }); break;
    case SIGMOID: map_n(n, [=](int64_t i) { gx[i] = gy[i] * y[i] * (1.0f - y[i]); }); break;
    case ABS: map_n(n, [=](int64_t i) { gx[i] = gy[i] * (x[i] > 0 ? 1.0f : (x[i] < 0 ? -1.0f : 0.0f)); }); break;
    case RELU: map_n(n, [=](int64_t i) { gx[i] = x[i] > 0 ? gy[i] : 0.0f; }); break;
    case GELU:
      map_n(n, [=](int64_t i) {
        float v = x[i];
        float cdf = 0.5f * (1.0f + fast_erf(v * kInvSqrt2));
        float pdf = fast_exp(-0.5f * v * v) * kInvSqrt2Pi;
        gx[i] = gy[i] * (cdf + v * pdf);
      });
      break;
    case GELU_TANH:
      map_n(n, [=](int64_t i) {
        float v = x[i], u = kSqrt2OverPi * (v + 0.044715f * v * v * v);
        float t = 2.0f * sigmoidf(2.0f * u) - 1.0f;
        float du = kSqrt2OverPi * (1.0f + 3.0f * 0.044715f * v * v);
        gx[i] = gy[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du);
      });
      break;
    case QUICK_GELU:
      map_n(n, [=](int64_t i) {
        float s = sigmoidf(1.702f * x[i]);
        gx[i] = gy[i] * (s + 1.702f * x[i] * s * (1.0f - s));
      });
      break;
    case SILU:
      map_n(n, [=](int64_t i) {
        float s = sigmoidf(x[i]);
        gx[i] = gy[i] * s * (1.0f + x[i] * (1.0f - s));
      });
      break;
    case POW_SCALAR: map_n(n, [=](int64_t i) { gx[i] = p0 == 0 ? 0.0f : gy[i] * p0 * std::pow(x[i], p0 - 1.0f); }); break;
    case CLAMP: map_n(n, [=](int64_t i) { gx[i] = (x[i] >= p0 && x[i] <= p1) ? gy[i] : 0.0f; }); break;
    case AFFINE: map_n(n, [=](int64_t i) { gx[i] = gy[i] * p0; }); break;
    case SIN: map_n(n, [=](int64_t i) { gx[i] = gy[i] * std::cos(x[i]); }); break;
    case COS: map_n(n, [=](int64_t i) { gx[i] = -gy[i] * std::sin(x[i]); }); break;
    case SQUARE: map_n(n, [=](int64_t i) { gx[i] = gy[i] * 2.0f * x[i]; }); break;
    case RECIPROCAL: map_n(n, [=](int64_t i) { gx[i] = -gy[i] * y[i] * y[i]; }); break;
  }
}

template <int OP>
static inline float bin(float a, float b) {
  if constexpr (OP == ADD) return a + b;
  if constexpr (OP == SUB) return a - b;
  if constexpr (OP == MUL) return a * b;
  if constexpr (OP == DIV) return a / b;
  if constexpr (OP == POW) return std::pow(a, b);
  if constexpr (OP == MAXIMUM) return (a > b || a != a) ? a : b;
  if constexpr (OP == MINIMUM) return (a < b || a != a) ? a : b;
  if constexpr (OP == EQ) return a == b ? 1.0f : 0.0f;
  if constexpr (OP == NE) return a != b ? 1.0f : 0.0f;
  if constexpr (OP == LT) return a < b ? 1.0f : 0.0f;
  if constexpr (OP == LE) return a <= b ? 1.0f : 0.0f;
  if constexpr (OP == GT) return a > b ? 1.0f : 0.0f;
  if constexpr (OP == GE) return a >= b ? 1.0f : 0.0f;
  return 0.0f;
}

// Iterates the rows (all dims but the last) of a strided N-d index space. For row r, calls
// body(r, offsets...) with the element offset of each operand at the row's start.
struct Strided {
  int nd;
  const int32_t* shape;
  int64_t rows, inner;
  Strided(int nd_, const int32_t* shape_) : nd(nd_), shape(shape_) {
    inner = nd > 0 ? shape[nd - 1] : 1;
    rows = 1;
    for (int d = 0; d < nd - 1; d++) rows *= shape[d];
  }
  inline int64_t offset(int64_t row, const int32_t* strides, int64_t base) const {
    int64_t off = base;
    for (int d = nd - 2; d >= 0; d--) {
      int64_t i = row % shape[d];
      row /= shape[d];
      off += i * strides[d];
    }
    return off;
  }
};

template <int OP>
static void binary_t(const float* a, int64_t ao, const int32_t* as, const float* b, int64_t bo, const int32_t* bs,
                     float* out, int nd, const int32_t* shape) {
  Strided it(nd, shape);
  const int64_t inner = it.inner;
  const int64_t sa = nd > 0 ? as[nd - 1] : 0, sb = nd > 0 ? bs[nd - 1] : 0;
  const int64_t total = it.rows * inner;
#pragma omp parallel for schedule(static) if (total > kParallelGrain && it.rows > 1)
  for (int64_t r = 0; r < it.rows; r++) {
    const float* pa = a + it.offset(r, as, ao);
    const float* pb = b + it.offset(r, bs, bo);
    float* po = out + r * inner;
    if (sa == 1 && sb == 1) {
#pragma omp simd
      for (int64_t i = 0; i < inner; i++) po[i] = bin<OP>(pa[i], pb[i]);
    } else if (sa == 1 && sb == 0) {
      const float bv = pb[0];
#pragma omp simd
      for (int64_t i = 0; i < inner; i++) po[i] = bin<OP>(pa[i], bv);
    } else if (sa == 0 && sb == 1) {
      const float av = pa[0];
#pragma omp simd
      for (int64_t i = 0; i < inner; i++) po[i] = bin<OP>(av, pb[i]);
    } else {
      for (int64_t i = 0; i < inner; i++) po[i] = bin<OP>(pa[i * sa], pb[i * sb]);
    }
  }
}

// A single flat loop over contiguous, same-shape operands spreads over threads even when
// the op layer passes one dimension.
template <int OP>
static void binary_flat(const float* a, const float* b, float* out, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; i++) out[i] = bin<OP>(a[i], b[i]);
}

template <int OP>
static void binary_dispatch(const float* a, int64_t ao, const int32_t* as, const float* b, int64_t bo,
                            const int32_t* bs, float* out, int nd, const int32_t* shape) {
  if (nd == 1 && as[0] == 1 && bs[0] == 1) binary_flat<OP>(a + ao, b + bo, out, shape[0]);
  else binary_t<OP>(a, ao, as, b, bo, bs, out, nd, shape);
}

static Napi::Value Binary(const Napi::CallbackInfo& info) {
  int op = static_cast<int>(num(info[0]));
  const float* a = f32(info[1]);
  int64_t ao = num(info[2]);
  const int32_t* as = i32(info[3]);
  const float* b = f32(info[4]);
  int64_t bo = num(info[5]);
  const int32_t* bs = i32(info[6]);
  float* out = f32(info[7]);
  auto shapeArr = info[8].As<Napi::Int32Array>();
  int nd = static_cast<int>(shapeArr.ElementLength());
  const int32_t* shape = shapeArr.Data();
  switch (op) {
#define CASE(X) case X: binary_dispatch<X>(a, ao, as, b, bo, bs, out, nd, shape); break;
    CASE(ADD) CASE(SUB) CASE(MUL) CASE(DIV) CASE(POW) CASE(MAXIMUM) CASE(MINIMUM)
    CASE(EQ) CASE(NE) CASE(LT) CASE(LE) CASE(GT) CASE(GE)
#undef CASE
  }
  return info.Env().Undefined();
}

static Napi::Value Where(const Napi::CallbackInfo& info) {
  const float* c = f32(info[0]);
  int64_t co = num(info[1]);
  const int32_t* cs = i32(info[2]);
  const float* a = f32(info[3]);
  int64_t ao = num(info[4]);
  const int32_t* as = i32(info[5]);
  const float* b = f32(info[6]);
  int64_t bo = num(info[7]);
  const int32_t* bs = i32(info[8]);
  float* out = f32(info[9]);
  auto shapeArr = info[10].As<Napi::Int32Array>();
  int nd = static_cast<int>(shapeArr.ElementLength());
  Strided it(nd, shapeArr.Data());
  const int64_t inner = it.inner;
  const int64_t sc = nd ? cs[nd - 1] : 0, sa = nd ? as[nd - 1] : 0, sb = nd ? bs[nd - 1] : 0;
#pragma omp parallel for schedule(static) if (it.rows * inner > kParallelGrain && it.rows > 1)
  for (int64_t r = 0; r < it.rows; r++) {
    const float* pc = c + it.offset(r, cs, co);
    const float* pa = a + it.offset(r, as, ao);
    const float* pb = b + it.offset(r, bs, bo);
    float* po = out + r * inner;
    for (int64_t i = 0; i < inner; i++) po[i] = pc[i * sc] != 0.0f ? pa[i * sa] : pb[i * sb];
  }
  return info.Env().Undefined();
}

// The most outer dimensions copy_strided steps through incrementally (more: offsets per row).
constexpr int kMaxDims = 16;

// One run of `inner` elements: plain, accumulated, or strided.
template <typename T>
static inline void copy_row(const T* ps, int64_t s1, T* pd, int64_t d1, int64_t inner, bool acc) {
  if (acc) {
    for (int64_t i = 0; i < inner; i++) pd[i * d1] += ps[i * s1];
  } else if (s1 == 1 && d1 == 1) {
    std::memcpy(pd, ps, inner * sizeof(T));
  } else {
    for (int64_t i = 0; i < inner; i++) pd[i * d1] = ps[i * s1];
  }
}

// Each thread takes a block of rows, finds its first row's offsets once (divisions), then steps
// from row to row by adding strides, an odometer over the outer dimensions: a head split
// [16, 256, 2, 16] has 8192 rows of 16 floats, where dividing per row cost more than the copy.
template <typename T>
static void copy_strided(const T* src, int64_t so, const int32_t* ss, T* dst, int64_t dso, const int32_t* ds,
                         int nd, const int32_t* shape, bool acc) {
  Strided it(nd, shape);
  const int64_t inner = it.inner, rows = it.rows;
  const int64_t s1 = nd ? ss[nd - 1] : 0, d1 = nd ? ds[nd - 1] : 0;
  const int outer = nd > 0 ? nd - 1 : 0;
  const int threads = rows * inner > kParallelGrain && rows > 1 ? omp_get_max_threads() : 1;
  if (outer > kMaxDims) {
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (int64_t r = 0; r < rows; r++) copy_row(src + it.offset(r, ss, so), s1, dst + it.offset(r, ds, dso), d1, inner, acc);
    return;
  }
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t r0 = rows * t / nt, r1 = rows * (t + 1) / nt;
    if (r0 < r1) {
      int64_t idx[kMaxDims] = {0};
      for (int64_t d = outer - 1, r = r0; d >= 0; d--) {
        idx[d] = r % shape[d];
        r /= shape[d];
      }
      const T* ps = src + it.offset(r0, ss, so);
      T* pd = dst + it.offset(r0, ds, dso);
      for (int64_t r = r0; r < r1; r++) {
        copy_row(ps, s1, pd, d1, inner, acc);
        // next row: the innermost outer index goes up, carrying into the ones before it
        for (int d = outer - 1; d >= 0; d--) {
          ps += ss[d];
          pd += ds[d];
          if (++idx[d] < shape[d]) break;
          ps -= static_cast<int64_t>(ss[d]) * shape[d];
          pd -= static_cast<int64_t>(ds[d]) * shape[d];
          idx[d] = 0;
        }
      }
    }
  }
}

static Napi::Value CopyStrided(const Napi::CallbackInfo& info) {
  auto shapeArr = info[6].As<Napi::Int32Array>();
  int nd = static_cast<int>(shapeArr.ElementLength());
  bool acc = flag(info[7]);
  if (info[0].As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    copy_strided<int32_t>(i32(info[0]), num(info[1]), i32(info[2]), i32(info[3]), num(info[4]), i32(info[5]),
                          nd, shapeArr.Data(), acc);
  } else {
    copy_strided<float>(f32(info[0]), num(info[1]), i32(info[2]), f32(info[3]), num(info[4]), i32(info[5]),
                        nd, shapeArr.Data(), acc);
  }
  return info.Env().Undefined();
}

static Napi::Value Fill(const Napi::CallbackInfo& info) {
  auto arr = info[0].As<Napi::TypedArray>();
  int64_t n = arr.ElementLength();
  if (arr.TypedArrayType() == napi_int32_array) {
    int32_t* p = i32(info[0]);
    int32_t v = static_cast<int32_t>(num(info[1]));
    std::fill(p, p + n, v);
  } else {
    float* p = f32(info[0]);
    float v = static_cast<float>(dbl(info[1]));
    map_n(n, [=](int64_t i) { p[i] = v; });
  }
  return info.Env().Undefined();
}

static Napi::Value Unary(const Napi::CallbackInfo& info) {
  unary(static_cast<int>(num(info[0])), f32(info[1]), f32(info[2]), num(info[3]),
        static_cast<float>(dbl(info[4])), static_cast<float>(dbl(info[5])));
  return info.Env().Undefined();
}

static Napi::Value UnaryGrad(const Napi::CallbackInfo& info) {
  unary_grad(static_cast<int>(num(info[0])), f32(info[1]), f32(info[2]), f32(info[3]), f32(info[4]), num(info[5]),
             static_cast<float>(dbl(info[6])), static_cast<float>(dbl(info[7])));
  return info.Env().Undefined();
}

// x [outer, r, inner] -> out [outer, inner]; op 0 sum, 1 max, 2 min.
static Napi::Value Reduce(const Napi::CallbackInfo& info) {
  int op = static_cast<int>(num(info[0]));
  const float* x = f32(info[1]);
  float* out = f32(info[2]);
  int64_t outer = num(info[3]), r = num(info[4]), inner = num(info[5]);
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (outer * r > kParallelGrain)
    for (int64_t o = 0; o < outer; o++) {
      const float* p = x + o * r;
      if (op == 0) {
        double acc = 0;  // float64 accumulation keeps long sums (losses, norms) exact enough
        float part[16] = {0};
        int64_t j = 0;
        for (; j + 16 <= r; j += 16) {
#pragma omp simd
          for (int q = 0; q < 16; q++) part[q] += p[j + q];
        }
        for (int q = 0; q < 16; q++) acc += part[q];
        for (; j < r; j++) acc += p[j];
        out[o] = static_cast<float>(acc);
      } else {
        float m = p[0];
        for (int64_t j = 1; j < r; j++) {
          float v = p[j];
          if (op == 1 ? (v > m || v != v) : (v < m || v != v)) m = v;
        }
        out[o] = m;
      }
    }
  } else {
#pragma omp parallel for schedule(static) if (outer * r * inner > kParallelGrain)
    for (int64_t o = 0; o < outer; o++) {
      float* po = out + o * inner;
      const float* p = x + o * r * inner;
      std::memcpy(po, p, inner * sizeof(float));
      for (int64_t j = 1; j < r; j++) {
        const float* pj = p + j * inner;
        if (op == 0) {
#pragma omp simd
          for (int64_t i = 0; i < inner; i++) po[i] += pj[i];
        } else if (op == 1) {
          for (int64_t i = 0; i < inner; i++) po[i] = (pj[i] > po[i] || pj[i] != pj[i]) ? pj[i] : po[i];
        } else {
          for (int64_t i = 0; i < inner; i++) po[i] = (pj[i] < po[i] || pj[i] != pj[i]) ? pj[i] : po[i];
        }
      }
    }
  }
  return info.Env().Undefined();
}

static Napi::Value Argmax(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  int32_t* out = i32(info[1]);
  int64_t outer = num(info[2]), r = num(info[3]), inner = num(info[4]);
#pragma omp parallel for schedule(static) if (outer * r * inner > kParallelGrain)
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t i = 0; i < inner; i++) {
      const float* p = x + o * r * inner + i;
      int32_t best = 0;
      float bv = p[0];
      for (int64_t j = 1; j < r; j++) {
        const float v = p[j * inner];
        // NaN counts as the largest value, as in torch.argmax (the first NaN wins).
        if (v > bv || (v != v && bv == bv)) { bv = v; best = static_cast<int32_t>(j); }
      }
      out[o * inner + i] = best;
    }
  }
  return info.Env().Undefined();
}

void register_elementwise(Napi::Env env, Napi::Object exports) {
  exports.Set("fill", Napi::Function::New(env, Fill));
  exports.Set("copyStrided", Napi::Function::New(env, CopyStrided));
  exports.Set("unary", Napi::Function::New(env, Unary));
  exports.Set("unaryGrad", Napi::Function::New(env, UnaryGrad));
  exports.Set("binary", Napi::Function::New(env, Binary));
  exports.Set("where", Napi::Function::New(env, Where));
  exports.Set("reduce", Napi::Function::New(env, Reduce));
  exports.Set("argmax", Napi::Function::New(env, Argmax));
}

}  // namespace puma
