# Warnings and sanitizers, applied to every attnlab target through one function.
add_library(attn_build_flags INTERFACE)
target_compile_options(attn_build_flags INTERFACE -Wall -Wextra -Wshadow -Wno-unknown-pragmas)
# GCC 12 reports a false -Wrestrict inside std::string concatenation (GCC PR 105329).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(attn_build_flags INTERFACE -Wno-restrict)
endif()
if(ATTN_WERROR)
  target_compile_options(attn_build_flags INTERFACE -Werror)
endif()
if(ATTN_SANITIZE)
  string(REPLACE "," ";" _attn_sanitizers "${ATTN_SANITIZE}")
  foreach(s IN LISTS _attn_sanitizers)
    target_compile_options(attn_build_flags INTERFACE -fsanitize=${s} -fno-omit-frame-pointer
                                                      -fno-sanitize-recover=all)
    target_link_options(attn_build_flags INTERFACE -fsanitize=${s})
  endforeach()
endif()
