# The fused kernel: one concept per file, one ISA per translation unit. Only
# ukernel_<isa>.cpp gets that ISA's flags; dispatch.cpp (engine/src) decides at run
# time which table is called, so the library still runs on a CPU without the extensions.
target_sources(attn_engine PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/plan.cpp
  ${CMAKE_CURRENT_LIST_DIR}/block_loop.cpp
  ${CMAKE_CURRENT_LIST_DIR}/split_kv.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tiny.cpp
  ${CMAKE_CURRENT_LIST_DIR}/driver.cpp
  ${CMAKE_CURRENT_LIST_DIR}/registration.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ukernel_scalar.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ukernel_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ukernel_avx512.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ukernel_avx512_bf16.cpp)
# -ffp-contract=off: FMAs only where the intrinsics ask for them, so the plain C++ in these
# files (the softmax step's per-row exp2_rr1_p6 and l·alpha + sum) computes exactly the
# specification's values on every ISA, and a vectorised loop cannot round differently from
# its scalar remainder (tests: SoftmaxStepOnEveryTailLength compares alpha bit for bit).
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/ukernel_avx2.cpp
  PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c;-ffp-contract=off")
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/ukernel_avx512.cpp
  PROPERTIES COMPILE_OPTIONS "-mavx512f;-mavx512vl;-mavx512bw;-mavx512dq;-mavx2;-mfma;-ffp-contract=off")
# The bf16 S path (vdpbf16ps), called only where cpuid reports AVX512_BF16 as well.
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/ukernel_avx512_bf16.cpp
  PROPERTIES COMPILE_OPTIONS "-mavx512f;-mavx512vl;-mavx512bw;-mavx512dq;-mavx512bf16;-mavx2;-mfma;-ffp-contract=off")
# The scalar specification is written with selects (x < c ? c : x) so that a
# loop over it vectorises; GCC only if-converts them without trapping math (we
# never inspect FP exception flags; results are unchanged).
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/ukernel_scalar.cpp
  PROPERTIES COMPILE_OPTIONS "-fno-trapping-math")
# The tiny path's loops run 1 to 16 times: GCC's vectorised versions of them (runtime
# checks, peeled heads and tails) cost more than they save there (lab-3 through attention():
# about 6 % more time).
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/tiny.cpp PROPERTIES COMPILE_OPTIONS "-fno-tree-vectorize")
# The hot loops (block loop, microkernels) start on a 64-byte line whatever code is linked
# before them: a change elsewhere in the fused directory (driver.cpp, 12 instructions more per
# call) moved them by 32 bytes and made 128 × 128 × 64 on one thread 2.5 % slower at the same
# instruction count (22.4-22.9 -> 23.3-23.7 µs; aligned: 22.8-23.0; Zen 5, attnlab compare).
set_property(SOURCE ${CMAKE_CURRENT_LIST_DIR}/block_loop.cpp ${CMAKE_CURRENT_LIST_DIR}/ukernel_scalar.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ukernel_avx2.cpp ${CMAKE_CURRENT_LIST_DIR}/ukernel_avx512.cpp
  APPEND PROPERTY COMPILE_OPTIONS "-falign-functions=64")
