# The decode kernel (few query rows per K/V head): the driver and dispatch are plain C++;
# kernels_<isa>.cpp get their ISA's flags and run after a cpuid check (dispatch.cpp).
target_sources(attn_engine PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/driver.cpp
  ${CMAKE_CURRENT_LIST_DIR}/dispatch.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels_scalar.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels_avx512.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kernels_avx512_bf16.cpp)
# -ffp-contract=off: FMAs only where the intrinsics ask for them (as in the fused kernel).
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/kernels_avx2.cpp
  PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c;-ffp-contract=off")
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/kernels_avx512.cpp
  PROPERTIES COMPILE_OPTIONS "-mavx512f;-mavx512vl;-mavx512bw;-mavx512dq;-mavx2;-mfma;-ffp-contract=off")
# The bf16 logits by vdpbf16ps, called only where cpuid reports AVX512_BF16 as well.
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/kernels_avx512_bf16.cpp
  PROPERTIES COMPILE_OPTIONS "-mavx512f;-mavx512vl;-mavx512bw;-mavx512dq;-mavx512bf16;-mavx2;-mfma;-ffp-contract=off")
