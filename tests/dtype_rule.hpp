// The accuracy rule for 16-bit tensors (FlashAttention's), shared by the dtype tests: on inputs
// rounded to a dtype, a kernel's error against the fp64 oracle computed on the SAME rounded inputs
// is at most twice the `blas` path's error on those inputs. Errors are the largest absolute
// differences over O and over LSE. Where the blas error is below fp32's own noise, 4u·max|x|
// (u = 2^-24: the oracle's fp32 output alone carries u·max|x|, and any fp32 kernel a few roundings
// more), that is the yardstick instead: the rule is about what 16-bit inputs and outputs cost, and
// fp32 accuracy has its own derived bound (testkit.cpp). With a 16-bit O both errors are dominated
// by its rounding, far above the floor.
#pragma once

#include "testkit.hpp"

#include <attn/attention.hpp>
#include <attn/kernels.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace attn::test {

/// A call whose tensors have the dtypes `t` (testkit's Buffers, whose case carries them): buf holds
/// the rounded inputs in fp32 (the oracle's inputs) and, after run(), the outputs widened to fp32.
struct TypedCall {
  Buffers buf;

  TypedCall(Case c, const DTypes& t) : buf((c.dtypes = t, c)) {}
  void run(const std::string& kernel, int threads = 0) { test::run(buf, kernel, threads); }
};

/// The fp64 oracle on the rounded inputs of `call`, into fp32 outputs (O not rounded to its dtype).
inline Buffers oracle(const TypedCall& call) {
  Buffers ref = call.buf;
  ref.c.dtypes = DTypes{};  // the same (rounded) values, passed as fp32
  run(ref, "reference");
  return ref;
}

struct Errors {
  double out = 0, lse = 0;
};

/// Largest |got − ref| over O and over LSE (NaN where exactly one is NaN: infinite).
inline Errors errors(const Buffers& got, const Buffers& ref) {
  auto max_diff = [](const std::vector<float>& a, const std::vector<float>& b) {
    double e = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (std::isnan(a[i]) && std::isnan(b[i])) continue;
      if (a[i] == b[i]) continue;  // equal infinities too
      const double d = std::abs(static_cast<double>(a[i]) - b[i]);
      e = std::max(e, std::isnan(d) ? std::numeric_limits<double>::infinity() : d);
    }
    return e;
  };
  return {max_diff(got.out, ref.out), max_diff(got.lse, ref.lse)};
}

/// 4u·max|x| over the finite x: fp32's noise floor (top of the file).
inline double fp32_noise(const std::vector<float>& x) {
  double m = 0;
  for (float v : x)
    if (std::isfinite(v)) m = std::max(m, static_cast<double>(std::abs(v)));
  return std::ldexp(m, -22);
}

/// The accuracy rule for `kernel` on case c with dtypes t (see the top of the file).
inline void expect_within_twice_blas(const Case& c, const DTypes& t, const std::string& kernel, int threads = 0) {
  TypedCall got(c, t), blas(c, t);
  const Buffers ref = oracle(got);
  got.run(kernel, threads);
  blas.run("blas", threads);
  const Errors e = errors(got.buf, ref), eb = errors(blas.buf, ref);
  const double yard_out = std::max(eb.out, fp32_noise(ref.out));
  const double yard_lse = std::max(eb.lse, fp32_noise(ref.lse));
  EXPECT_LE(e.out, 2 * yard_out) << kernel << " " << c.name() << " " << dtypes_name(t) << ": O error " << e.out
                                 << ", blas " << eb.out;
  EXPECT_LE(e.lse, 2 * yard_lse) << kernel << " " << c.name() << " " << dtypes_name(t) << ": LSE error " << e.lse
                                 << ", blas " << eb.lse;
}

}  // namespace attn::test
