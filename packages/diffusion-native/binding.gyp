{
  "variables": {
    "have_dnnl%": "<!(test -f /usr/include/dnnl.hpp && echo 1 || echo 0)"
  },
  "targets": [
    {
      "target_name": "flashdiff_native",
      "sources": ["native/addon.cc", "native/conv_blas.cc", "native/conv_dnnl.cc", "native/elementwise.cc", "native/layout.cc", "native/group_norm.cc", "native/optimizer.cc"],
      "include_dirs": ["/usr/include/x86_64-linux-gnu/openblas-pthread", "/usr/include/openblas"],
      "cflags_cc!": ["-fno-exceptions", "-O2"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=native", "-fopenmp", "-fno-math-errno", "-fno-trapping-math", "-fexceptions", "-Wall", "-Wno-unused-parameter"],
      "libraries": ["-lopenblas", "-fopenmp"],
      "ldflags": ["-Wl,-z,nodelete"],
      "conditions": [
        ["have_dnnl==1", { "defines": ["FLASHDIFF_HAVE_DNNL=1"], "libraries": ["-ldnnl"] }],
        ["target_arch=='x64'", { "cflags_cc": ["-mprefer-vector-width=512"] }]
      ]
    }
  ]
}
