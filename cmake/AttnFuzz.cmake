# ATTN_BUILD_FUZZ: libFuzzer harnesses (tests/fuzz). Every attnlab target in
# the build is instrumented for coverage and built with ASan + UBSan, so the
# engine and the CLI support library the harnesses call are clang-built too.
# Use a separate build directory (tools/fuzz.sh uses build-fuzz).
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "ATTN_BUILD_FUZZ needs clang for libFuzzer (found ${CMAKE_CXX_COMPILER_ID}); configure a "
                      "separate build directory with -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++, "
                      "or run tools/fuzz.sh")
endif()
if(ATTN_SANITIZE)
  message(FATAL_ERROR "ATTN_BUILD_FUZZ sets its own sanitizers (address, undefined); leave ATTN_SANITIZE empty")
endif()
target_compile_options(attn_build_flags INTERFACE -fsanitize=fuzzer-no-link,address,undefined
                                                  -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
target_link_options(attn_build_flags INTERFACE -fsanitize=address,undefined)
