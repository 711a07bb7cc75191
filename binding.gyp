{
  "targets": [
    {
      "target_name": "puma_native",
      "sources": [
        "native/addon.cc", "native/elementwise.cc", "native/linalg.cc", "native/norm.cc",
        "native/conv.cc", "native/conv_dnnl.cc", "native/attention.cc", "native/misc.cc",
        "native/gemm.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!(node scripts/blas.mjs include)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "<!@(node scripts/blas.mjs defines)"],
      "cflags!": ["-fno-exceptions", "-O3"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=native", "-fopenmp", "-fno-math-errno"],
      "libraries": ["<!@(node scripts/blas.mjs libs)", "-fopenmp"],
      "xcode_settings": {
        "OTHER_CPLUSPLUSFLAGS": ["-std=c++17", "-O3", "-Xpreprocessor", "-fopenmp"]
      }
    }
  ]
}
