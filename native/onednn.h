// The process's oneDNN CPU engine and stream, shared by gemm.cc and conv_dnnl.cc.
#pragma once
#ifdef PUMA_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#include <string>

namespace puma {
dnnl::engine& onednn_engine();
dnnl::stream& onednn_stream();
// Counts one convolution pass run by oneDNN (reported by setGemm as dnnlConvCalls).
void count_dnnl_conv();
// Whether oneDNN picked its slow reference implementation for a primitive (then we use our own path).
template <typename PD>
bool is_reference_impl(const PD& pd) {
  return std::string(pd.impl_info_str()).rfind("ref", 0) == 0;
}
}  // namespace puma
#endif
