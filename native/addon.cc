// Module entry of the puma native addon: process-wide memory and thread settings, and the
// registration of every kernel group.
#include <malloc.h>
#include <cstdlib>
#include "common.h"

extern "C" {
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);
int openblas_get_parallel(void);
char* openblas_get_config(void);
char* openblas_get_corename(void);
}

namespace puma {

static int g_threads = 1;
int num_threads() { return g_threads; }
bool blas_is_openmp() { return openblas_get_parallel() == 2; }

static void set_threads(int n) {
  if (n < 1) n = 1;
  g_threads = n;
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

static Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  set_threads(static_cast<int>(num(info[0])));
  return info.Env().Undefined();
}

static Napi::Value Config(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("threads", g_threads);
  o.Set("blasThreads", openblas_get_num_threads());
  // 0 sequential, 1 pthreads, 2 OpenMP: with OpenMP, OpenBLAS and our kernels share one pool.
  o.Set("blasParallel", openblas_get_parallel());
  o.Set("blasConfig", std::string(openblas_get_config()));
  o.Set("blasCore", std::string(openblas_get_corename()));
  return o;
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Freed large blocks stay in the heap instead of going back to the OS: on this VM the next
  // first touch of fresh pages costs ~12 us per 4 KiB (see MACHINE-NOTES.md).
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
  int n = 0;
  if (const char* s = std::getenv("PUMA_NUM_THREADS")) n = std::atoi(s);
  if (n <= 0) n = omp_get_num_procs();
  set_threads(n);
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("config", Napi::Function::New(env, Config));
  register_elementwise(env, exports);
  register_linalg(env, exports);
  register_gemm(env, exports);
  register_norm(env, exports);
  register_conv(env, exports);
  register_attention(env, exports);
  register_misc(env, exports);
  return exports;
}

}  // namespace puma

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return puma::Init(env, exports); }

NODE_API_MODULE(puma_native, InitModule)
