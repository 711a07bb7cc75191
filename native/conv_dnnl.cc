// 2-D convolution on oneDNN's direct convolution primitives (forward, backward data, backward
// weights), when the addon was built against oneDNN. No im2col: the primitives read blocked
// layouts (nChw16c and the like) that they pick themselves; our NCHW float32 tensors are
// reordered into them and the result back, which in bfloat16 mode also rounds the operands to
// bfloat16 (nearest even), as gemm() does, so the reference backend computes the same numbers.
// On this machine's AVX-512 this is 2-3x the im2col + matmul schedule of conv.cc in float32
// and 4-5x in bfloat16 (bench/). conv.cc falls back to im2col when a shape gets only oneDNN's
// reference implementation or fails. Like gemm.cc's primitive cache, the cache and buffers here
// assume one calling thread (the JS thread; never inside our parallel regions).
#include "conv.h"
#ifdef PUMA_HAVE_DNNL
#include <omp.h>
#include <cstdlib>
#include <memory>
#include <unordered_map>
#include "onednn.h"

namespace puma {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

enum Pass : int64_t { kForward = 0, kForwardBias = 1, kBackwardData = 2, kBackwardWeights = 3 };

struct Key {
  int64_t v[16];
  bool operator==(const Key& o) const { return std::memcmp(v, o.v, sizeof v) == 0; }
};
struct KeyHash {
  size_t operator()(const Key& k) const {
    size_t h = 1469598103934665603ull;
    for (int64_t x : k.v) h = (h ^ static_cast<size_t>(x)) * 1099511628211ull;
    return h;
  }
};

// A reorder from one layout to another, or nothing when they agree.
struct Move {
  bool needed = false;
  dnnl::reorder prim;
  dnnl::memory::desc from, to;
  void init(const dnnl::memory::desc& source, const dnnl::memory::desc& target) {
    from = source;
    to = target;
    needed = !(source == target);
    if (needed) prim = dnnl::reorder(dnnl::reorder::primitive_desc(onednn_engine(), from, onednn_engine(), to));
  }
};

// One pass of one geometry: the primitive and the moves of its operands. The operand roles are
// pass-specific (forward: x w -> y; backward data: gy w -> gx; backward weights: x gy -> gw).
struct Entry {
  bool usable = false;
  dnnl::primitive prim;
  Move in0, in1, out;  // in0, in1 from our layout into the primitive's; out from its layout back
};

std::unordered_map<Key, std::unique_ptr<Entry>, KeyHash> cache;
constexpr size_t kCacheMax = 1024;

// Growable 64-byte aligned buffers, one per operand role, kept for the process: the blocked
// copies of the largest convolution so far, never freed and re-touched (fresh pages are dear).
struct Buffer {
  void* p = nullptr;
  size_t size = 0;
  void* get(size_t bytes) {
    if (bytes > size) {
      std::free(p);
      size = (bytes + 4095) / 4096 * 4096;
      p = std::aligned_alloc(64, size);
    }
    return p;
  }
};
Buffer buf_in0, buf_in1, buf_out;

dnnl::memory::dims dims_x(const Conv& g) { return {g.n, g.c, g.h, g.w}; }
dnnl::memory::dims dims_w(const Conv& g) { return {g.o, g.c, g.kh, g.kw}; }
dnnl::memory::dims dims_y(const Conv& g) { return {g.n, g.o, g.oh, g.ow}; }

Entry* lookup(const Conv& g, Pass pass, bool bf16) {
  // the threads it is built for: a primitive may size its work split when it is created
  const Key key{{g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow, pass, bf16, omp_get_max_threads()}};
  auto it = cache.find(key);
  if (it != cache.end()) return it->second.get();
  if (cache.size() >= kCacheMax) cache.clear();
  auto e = std::make_unique<Entry>();
  try {
    const dt ct = bf16 ? dt::bf16 : dt::f32;
    const dnnl::memory::desc ux(dims_x(g), dt::f32, tag::nchw), uw(dims_w(g), dt::f32, tag::oihw),
        uy(dims_y(g), dt::f32, tag::nchw);
    const dnnl::memory::desc ax(dims_x(g), ct, tag::any), aw(dims_w(g), ct, tag::any), ay(dims_y(g), ct, tag::any);
    const dnnl::memory::dims strides{g.sh, g.sw}, lo{g.ph, g.pw};
    // Padding on the far side: what makes (h + lo + hi - kh) / sh + 1 == oh exactly.
    const dnnl::memory::dims hi{(g.oh - 1) * g.sh + g.kh - g.h - g.ph, (g.ow - 1) * g.sw + g.kw - g.w - g.pw};
    const auto alg = dnnl::algorithm::convolution_direct;
    auto& eng = onednn_engine();
    // The float32 output of a pass is asked for in any layout too, then reordered into ours.
    const dnnl::memory::desc ay32(dims_y(g), dt::f32, tag::any), ax32(dims_x(g), dt::f32, tag::any),
        aw32(dims_w(g), dt::f32, tag::any);
    if (pass == kForward || pass == kForwardBias) {
      const dnnl::memory::desc b(dnnl::memory::dims{g.o}, dt::f32, tag::x);
      auto d = pass == kForwardBias
                   ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, ax, aw, b, ay32, strides,
                                                     lo, hi)
                   : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, ax, aw, ay32, strides,
                                                     lo, hi);
      dnnl::convolution_forward::primitive_desc pd(d, eng);
      if (!is_reference_impl(pd)) {
        e->prim = dnnl::convolution_forward(pd);
        e->in0.init(ux, pd.src_desc());
        e->in1.init(uw, pd.weights_desc());
        e->out.init(pd.dst_desc(), uy);
        e->usable = true;
      }
    } else {
      // The backward passes are created against a forward hint of the same compute type.
      dnnl::convolution_forward::primitive_desc hint(
          dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, ax, aw, ay, strides, lo, hi), eng);
      if (pass == kBackwardData) {
        dnnl::convolution_backward_data::primitive_desc pd(
            dnnl::convolution_backward_data::desc(alg, ax32, aw, ay, strides, lo, hi), eng, hint);
        if (!is_reference_impl(pd)) {
          e->prim = dnnl::convolution_backward_data(pd);
          e->in0.init(uy, pd.diff_dst_desc());
          e->in1.init(uw, pd.weights_desc());
          e->out.init(pd.diff_src_desc(), ux);
          e->usable = true;
        }
      } else {
        dnnl::convolution_backward_weights::primitive_desc pd(
            dnnl::convolution_backward_weights::desc(alg, ax, aw32, ay, strides, lo, hi), eng, hint);
        if (!is_reference_impl(pd)) {
          e->prim = dnnl::convolution_backward_weights(pd);
          e->in0.init(ux, pd.src_desc());
          e->in1.init(uy, pd.diff_dst_desc());
          e->out.init(pd.diff_weights_desc(), uw);
          e->usable = true;
        }
      }
    }
  } catch (const dnnl::error&) {
    e->usable = false;
  }
  Entry* p = e.get();
  cache.emplace(key, std::move(e));
  return p;
}

// Our operand as a oneDNN memory in the primitive's layout: itself, or a reordered copy.
dnnl::memory bring_in(const Move& m, const dnnl::memory::desc& ours, const float* data, Buffer& buf) {
  auto& eng = onednn_engine();
  dnnl::memory user(ours, eng, const_cast<float*>(data));
  if (!m.needed) return user;
  dnnl::memory copy(m.to, eng, buf.get(m.to.get_size()));
  m.prim.execute(onednn_stream(), user, copy);
  return copy;
}

// Forward passes below this many multiply-adds run on one thread. Measured on this 2-core
// machine: two threads lose below ~20 M (up to 2.4x slower for the small decoders' convolutions
// at batch 2, 16x16 and 8x8: waking and joining the second thread costs more than it computes),
// break even near 40 M and win from ~75 M (by ~25%).
constexpr double kForwardOneThreadMacs = double(1 << 25);

// omp_set_num_threads(n) for this scope (oneDNN sizes its parallel regions from it).
struct ThreadScope {
  int before;
  explicit ThreadScope(int n) : before(omp_get_max_threads()) { if (n != before) omp_set_num_threads(n); }
  ~ThreadScope() { if (omp_get_max_threads() != before) omp_set_num_threads(before); }
};

bool run_pass(const Conv& g, Pass pass, const float* in0, const float* in1, const float* bias, float* out);

// Runs one pass: in0, in1 in our layouts, out written in ours.
bool run(const Conv& g, Pass pass, const float* in0, const float* in1, const float* bias, float* out) {
  const double macs = double(g.n) * g.o * g.oh * g.ow * g.c * g.kh * g.kw;
  const bool forward = pass == kForward || pass == kForwardBias;
  ThreadScope threads(forward && macs < kForwardOneThreadMacs ? 1 : omp_get_max_threads());
  return run_pass(g, pass, in0, in1, bias, out);
}

bool run_pass(const Conv& g, Pass pass, const float* in0, const float* in1, const float* bias, float* out) {
  Entry* e = lookup(g, pass, gemm_bf16());
  if (!e->usable) return false;
  const dnnl::memory::desc ux(dims_x(g), dt::f32, tag::nchw), uw(dims_w(g), dt::f32, tag::oihw),
      uy(dims_y(g), dt::f32, tag::nchw);
  const dnnl::memory::desc* d0 = pass == kBackwardData ? &uy : &ux;
  const dnnl::memory::desc* d1 = pass == kBackwardWeights ? &uy : &uw;
  const dnnl::memory::desc* dout = pass == kBackwardData ? &ux : pass == kBackwardWeights ? &uw : &uy;
  int a0 = DNNL_ARG_SRC, a1 = DNNL_ARG_WEIGHTS, aout = DNNL_ARG_DST;
  if (pass == kBackwardData) { a0 = DNNL_ARG_DIFF_DST; aout = DNNL_ARG_DIFF_SRC; }
  if (pass == kBackwardWeights) { a1 = DNNL_ARG_DIFF_DST; aout = DNNL_ARG_DIFF_WEIGHTS; }
  try {
    auto& eng = onednn_engine();
    dnnl::memory m0 = bring_in(e->in0, *d0, in0, buf_in0);
    dnnl::memory m1 = bring_in(e->in1, *d1, in1, buf_in1);
    dnnl::memory user_out(*dout, eng, out);
    dnnl::memory mo =
        e->out.needed ? dnnl::memory(e->out.from, eng, buf_out.get(e->out.from.get_size())) : user_out;
    std::unordered_map<int, dnnl::memory> args{{a0, m0}, {a1, m1}, {aout, mo}};
    if (bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory({{g.o}, dt::f32, tag::x}, eng, const_cast<float*>(bias)));
    e->prim.execute(onednn_stream(), args);
    if (e->out.needed) e->out.prim.execute(onednn_stream(), mo, user_out);
    onednn_stream().wait();
  } catch (const dnnl::error&) {
    return false;  // a failed pass has written nothing our caller reads: it recomputes in full
  }
  count_dnnl_conv();
  return true;
}

}  // namespace

bool conv2d_dnnl(const float* x, const float* w, const float* bias, float* out, const Conv& g) {
  return run(g, bias ? kForwardBias : kForward, x, w, bias, out);
}

bool conv2d_grad_dnnl(const float* x, const float* w, const float* gy, float* gx, float* gw, const Conv& g) {
  if (gx && !run(g, kBackwardData, gy, w, nullptr, gx)) return false;
  if (gw && !run(g, kBackwardWeights, x, gy, nullptr, gw)) return false;
  return true;
}

}  // namespace puma
#endif
