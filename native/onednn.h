// The process's oneDNN CPU engine and stream, shared by gemm.cc and conv_dnnl.cc.
#pragma once
#ifdef PUMA_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>

namespace puma {
dnnl::engine& onednn_engine();
dnnl::stream& onednn_stream();
// Counts one convolution pass run by oneDNN (reported by setGemm as dnnlConvCalls).
void count_dnnl_conv();
}  // namespace puma
#endif
