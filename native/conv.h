// The geometry of a 2-D convolution (NCHW input, OIHW weights) and the oneDNN direct
// convolution that conv.cc tries first when the addon has oneDNN (conv_dnnl.cc).
#pragma once
#include "common.h"

namespace puma {

struct Conv {
  int64_t n, c, h, w, o, kh, kw, sh, sw, ph, pw, oh, ow;
  bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
};

#ifdef PUMA_HAVE_DNNL
// out = conv(x, w) + bias on oneDNN, in float32 or (gemm_bf16()) bfloat16 operands; false when
// oneDNN has no fast implementation for this geometry or failed, and nothing usable was written.
bool conv2d_dnnl(const float* x, const float* w, const float* bias, float* out, const Conv& g);
// gx (overwritten) and gw (overwritten) where non-null; false as above.
bool conv2d_grad_dnnl(const float* x, const float* w, const float* gy, float* gx, float* gw, const Conv& g);
#endif

}  // namespace puma
