// Pinned outputs: the bit patterns of O and LSE for a fixed set of seeded calls, recorded
// from the engine as it was before the restructuring of issue 14 (causal offsets, the
// shared row merge, the fused driver split by concept). A refactoring that is meant to
// change no arithmetic must leave every hash below as it is.
//
// What is pinned is what does not depend on the host:
//   reference, textbook    plain loops; fp64/fp32 with glibc's exp/log (Debian 12, x86-64 with FMA)
//   fused, scalar table    the specification microkernels, compiled without FMA contraction
//   fused, AVX2 table      intrinsics with explicit FMAs: the same bits on every AVX2+FMA CPU
// Not pinned: `blas` (its bits follow the OpenBLAS core chosen for the CPU) and the AVX-512
// table (only on CPUs that have it; this file was recorded on one without).
// The fused block sizes come from the per-ISA table; ATTN_FUSED_BLOCKS changes them and
// with them the bits, so the fused pins are skipped when it is set.
//
// A hash that changes on purpose (a change of arithmetic) is re-recorded from the failure
// message, which prints the new table line, and the change of numbers is said in the commit.
#include "testkit.hpp"

#include "fused/ukernels.hpp"  // force_isa: the fused kernel's table for one ISA

#include <gnu/libc-version.h>

#include <bit>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

namespace attn::test {
namespace {

struct Pinned {
  const char* name;
  Case c;
};

Case make(i64 B, i64 H, i64 Hkv, i64 Nq, i64 Nk, i64 d, i64 dv, Causal causal, bool mask, std::uint64_t seed,
          bool permuted = false) {
  Case c;
  c.B = B, c.H = H, c.Hkv = Hkv, c.Nq = Nq, c.Nk = Nk, c.d = d, c.dv = dv;
  c.causal = causal, c.mask = mask, c.seed = seed, c.permuted = permuted;
  return c;
}

// Each shape reaches a different part of the kernels: the fused tiny path (lab sizes), one
// and several query blocks, causal block skipping both alignments (rows that see no key
// included), masks with -inf, GQA, a layout with free strides, several key-block groups, and
// the split-KV decode path with its merge.
const Pinned kCases[] = {
    {"plain", make(1, 2, 2, 37, 45, 24, 20, Causal::none, false, 11)},
    {"causal_top_left", make(1, 2, 2, 70, 70, 32, 32, Causal::top_left, false, 12)},
    {"causal_bottom_right", make(2, 1, 1, 40, 90, 16, 16, Causal::bottom_right, false, 13)},
    {"causal_bottom_right_nq_gt_nk", make(1, 2, 2, 50, 20, 16, 8, Causal::bottom_right, false, 14)},
    {"mask", make(1, 1, 1, 33, 47, 8, 8, Causal::none, true, 15)},
    {"gqa_mask_causal", make(1, 4, 2, 21, 29, 40, 24, Causal::bottom_right, true, 16)},
    {"tiny_lab", make(1, 1, 1, 5, 7, 8, 8, Causal::top_left, true, 17)},
    {"groups_permuted", make(1, 2, 1, 150, 2200, 64, 64, Causal::bottom_right, false, 18, true)},
    {"decode_split_kv", make(1, 2, 2, 2, 2500, 64, 48, Causal::none, false, 19)},
    {"decode_split_kv_masked", make(1, 1, 1, 3, 2300, 32, 32, Causal::bottom_right, true, 20)},
};

/// FNV-1a over the bit patterns of O, then LSE.
std::uint64_t hash_outputs(const Buffers& b) {
  std::uint64_t h = 1469598103934665603ull;
  auto add = [&](const std::vector<float>& x) {
    for (float f : x) {
      const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
      for (int s = 0; s < 32; s += 8) h = (h ^ ((u >> s) & 0xffu)) * 1099511628211ull;
    }
  };
  add(b.out);
  add(b.lse);
  return h;
}

// Recorded at commit 3707222 (before issue 14's restructuring), AMD EPYC Zen 3.
const std::map<std::string, std::uint64_t> kPins = {
    {"causal_bottom_right/fused_avx2", 0x9d79426e620719a8ull},
    {"causal_bottom_right/fused_scalar", 0xe93cd5ffeeecd9a0ull},
    {"causal_bottom_right/reference", 0x69a587f0c2da6373ull},
    {"causal_bottom_right/textbook", 0xd7a253c8acac9b4cull},
    {"causal_bottom_right_nq_gt_nk/fused_avx2", 0xce05146a834a4bd3ull},
    {"causal_bottom_right_nq_gt_nk/fused_scalar", 0x5720b356092d4102ull},
    {"causal_bottom_right_nq_gt_nk/reference", 0x5409723c73664d68ull},
    {"causal_bottom_right_nq_gt_nk/textbook", 0x34ce0bd0d6819ca4ull},
    {"causal_top_left/fused_avx2", 0x0ee0eb4422e4bf50ull},
    {"causal_top_left/fused_scalar", 0xb4cc24b9a4c3841cull},
    {"causal_top_left/reference", 0x8da6a5efa5bd4382ull},
    {"causal_top_left/textbook", 0x9318170afaeccfccull},
    {"decode_split_kv/fused_avx2", 0xdee148fef3a3e1b5ull},
    {"decode_split_kv/fused_scalar", 0xa3fa61d590390378ull},
    {"decode_split_kv/reference", 0x8c0327f658898141ull},
    {"decode_split_kv/textbook", 0x16da094811e2a1faull},
    {"decode_split_kv_masked/fused_avx2", 0x21fa81c58e4ff04full},
    {"decode_split_kv_masked/fused_scalar", 0x6f3f647ab6ec0c14ull},
    {"decode_split_kv_masked/reference", 0x48f1fd3cc2bdf325ull},
    {"decode_split_kv_masked/textbook", 0x4fa127b159237c6bull},
    {"gqa_mask_causal/fused_avx2", 0x7b73af5bf92b5d51ull},
    {"gqa_mask_causal/fused_scalar", 0x6a21f4ad3dac580full},
    {"gqa_mask_causal/reference", 0x4d72ded5098f17b5ull},
    {"gqa_mask_causal/textbook", 0x7afce02106df5387ull},
    {"groups_permuted/fused_avx2", 0x9e6dc79815456d21ull},
    {"groups_permuted/fused_scalar", 0x8abd5fc199a08854ull},
    {"groups_permuted/reference", 0x05ec6338a077ceefull},
    {"groups_permuted/textbook", 0xc288c7acdfaf3d16ull},
    {"mask/fused_avx2", 0x3a270e515e300d4eull},
    {"mask/fused_scalar", 0xedcdd1cfb88c8d7cull},
    {"mask/reference", 0x2e7cc61783f862f3ull},
    {"mask/textbook", 0x8aa66bd85ee799dfull},
    {"plain/fused_avx2", 0x0d37ceb52d1ffd2aull},
    {"plain/fused_scalar", 0x970fe64f17792d85ull},
    {"plain/reference", 0x64b3d978573428d7ull},
    {"plain/textbook", 0x7e8583aa9e7bdb80ull},
    {"tiny_lab/fused_avx2", 0x78f1ec1bfe48f513ull},
    {"tiny_lab/fused_scalar", 0x78f1ec1bfe48f513ull},
    {"tiny_lab/reference", 0x77bb855acf877a2bull},
    {"tiny_lab/textbook", 0x2f181d187cca6f04ull},
};

void expect_pinned(const std::string& kernel_label, const std::string& kernel) {
  for (const Pinned& p : kCases) {
    Buffers b(p.c);
    run(b, kernel, 2);
    const std::string key = std::string(p.name) + "/" + kernel_label;
    const std::uint64_t got = hash_outputs(b);
    const auto it = kPins.find(key);
    char line[128];
    std::snprintf(line, sizeof line, "    {\"%s\", 0x%016llxull},", key.c_str(), static_cast<unsigned long long>(got));
    if (it == kPins.end())
      ADD_FAILURE() << "no pin recorded for " << key << "; the line for it:\n" << line;
    else
      EXPECT_EQ(it->second, got) << key << ": the outputs changed; the line for the new bits:\n" << line;
  }
}

/// The reference and textbook bits follow the C library's exp, expf and log, which differ between
/// glibc versions (and may between its FMA and non-FMA variants): pinned on the one recorded.
constexpr const char* kRecordedGlibc = "2.36";
bool same_libm() {
  return std::string(gnu_get_libc_version()) == kRecordedGlibc;
}

TEST(PinnedOutputs, Reference) {
  if (!same_libm()) GTEST_SKIP() << "recorded with glibc " << kRecordedGlibc << ", this is " << gnu_get_libc_version();
  expect_pinned("reference", "reference");
}

TEST(PinnedOutputs, Textbook) {
  if (!same_libm()) GTEST_SKIP() << "recorded with glibc " << kRecordedGlibc << ", this is " << gnu_get_libc_version();
  expect_pinned("textbook", "textbook");
}

class FusedIsa {
 public:
  explicit FusedIsa(fused::Isa isa) : saved_(fused::active_ukernels().isa), ok_(fused::force_isa(isa)) {}
  ~FusedIsa() { fused::force_isa(saved_); }
  bool ok() const { return ok_; }

 private:
  fused::Isa saved_;
  bool ok_;
};

bool block_override_set() {
  const char* s = std::getenv("ATTN_FUSED_BLOCKS");
  return s != nullptr && *s != '\0';
}

TEST(PinnedOutputs, FusedScalar) {
  if (block_override_set()) GTEST_SKIP() << "ATTN_FUSED_BLOCKS changes the block sizes and so the bits";
  const FusedIsa isa(fused::Isa::scalar);
  ASSERT_TRUE(isa.ok());
  expect_pinned("fused_scalar", "fused");
}

TEST(PinnedOutputs, FusedAvx2) {
  if (block_override_set()) GTEST_SKIP() << "ATTN_FUSED_BLOCKS changes the block sizes and so the bits";
  const FusedIsa isa(fused::Isa::avx2);
  if (!isa.ok()) GTEST_SKIP() << "this CPU has no AVX2+FMA";
  expect_pinned("fused_avx2", "fused");
}

}  // namespace
}  // namespace attn::test
