// The decode kernel: its two loops against the scalar specification on every tail, then
// the whole kernel against the fp64 reference over the shapes it is built for (Nq 1..16,
// GQA groups, key tails and chunk boundaries, both causal alignments, masks, strides),
// masked garbage in K/V, determinism across thread counts and guard pages, per ISA.
// (The every-kernel grids of test_validation and test_semantics run it too, through the registry.)
#include "decode/kernels.hpp"
#include "decode/plan.hpp"
#include "fused_testers.hpp"
#include "testkit.hpp"

#include <attn/dtype.hpp>
#include <attn/kernels.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

namespace attn::test {
namespace {

using decode::kMinChunkKeys;
using decode::kOneRowTileKeys;
using decode::kRowsPerPass;
using decode::kTileKeys;
using fused::Isa;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

class DecodePerIsa : public UsableIsaTest {
 protected:
  const decode::Kernels& dk() const { return decode::kernels_for(GetParam()); }
};
INSTANTIATE_TEST_SUITE_P(Decode, DecodePerIsa, ::testing::ValuesIn(isas()),
                         [](const auto& p) { return std::string(fused::isa_name(p.param)); });

TEST(Decode, EveryIsaMapsToATableThatRunsOnIt) {
  for (Isa isa : usable_isas()) {
    const Isa got = decode::kernels_for(isa).isa;
    EXPECT_EQ(got, isa) << fused::isa_name(isa);
  }
}

// --- the loops -----------------------------------------------------------------

/// n random values of T in [-1, 1] (rounded to T), and their exact fp32 values.
template <class T>
void fill_kv(T* x, float* widened, std::size_t n, std::uint32_t seed) {
  std::vector<float> f(n);
  fill_random(f.data(), n, seed);
  for (std::size_t i = 0; i < n; ++i) x[i] = from_float<T>(f[i]), widened[i] = to_float(x[i]);
}

/// s = c · q·k: an fp32 dot product of d terms on the widened K (exact), error ≤ γ_d Σ|q k|,
/// times c (one rounding); nothing written past n; K read only inside its rows (guard page).
template <class T>
void check_scores(const decode::Kernels& dk, const char* dtype) {
  const float c = 0.37f;
  // 97 and 127: the one-row path's 4-register loop, then full registers and a masked one (either ISA).
  for (i64 d : {1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 97, 127, 128}) {
    for (int rows = 1; rows <= kRowsPerPass; ++rows)
      for (i64 n = 1; n <= 33; ++n) {
        const i64 ldk = d + 3, lds = n + 2;
        std::vector<float> qs(static_cast<std::size_t>(rows * d));
        fill_random(qs.data(), qs.size(), static_cast<std::uint32_t>(rows * 100 + n));
        std::vector<const float*> q(static_cast<std::size_t>(rows));
        for (int r = 0; r < rows; ++r) q[static_cast<std::size_t>(r)] = qs.data() + r * d;
        const std::size_t kn = static_cast<std::size_t>((n - 1) * ldk + d);  // the last key row ends at the guard
        GuardedArray<T> k(kn);
        std::vector<float> kw(kn);
        fill_kv(k.data(), kw.data(), kn, static_cast<std::uint32_t>(n * 7 + d));
        std::vector<float> s(static_cast<std::size_t>(rows * lds), kSentinel);
        // Prefetching the key rows themselves: a hint that must change nothing.
        dk.loops<T>().scores(rows, q.data(), d, k.data(), ldk, n, c, s.data(), lds, {k.data(), n});
        for (int r = 0; r < rows; ++r)
          for (i64 j = 0; j < lds; ++j) {
            const float got = s[static_cast<std::size_t>(r * lds + j)];
            if (j >= n) {
              ASSERT_EQ(got, kSentinel) << dtype << ": wrote past n: rows " << rows << " n " << n << " d " << d;
              continue;
            }
            double exact = 0, mag = 0;
            for (i64 t = 0; t < d; ++t) {
              const double x =
                  static_cast<double>(q[static_cast<std::size_t>(r)][t]) * kw[static_cast<std::size_t>(j * ldk + t)];
              exact += x, mag += std::abs(x);
            }
            const double bound = c * gamma(d) * mag * (1 + kU) + kU * std::abs(c * exact);
            ASSERT_LE(std::abs(got - c * exact), bound)
                << dtype << ": rows " << rows << " n " << n << " d " << d << " r " << r << " j " << j;
          }
      }
  }
}

TEST_P(DecodePerIsa, ScoresOnEveryTailMatchAnFp64DotProduct) {
  check_scores<float>(dk(), "f32");
  check_scores<f16>(dk(), "f16");
  check_scores<bf16>(dk(), "bf16");
}

/// o = alpha·o + Σ_j p_j v_j on the widened V, n + 1 terms: error ≤ γ_{n+1} (|alpha o| + Σ|p v|);
/// and the contract's sequence: rows alone, a few columns at a time, give the same bits.
template <class T>
void check_pv(const decode::Kernels& dk, const char* dtype) {
  for (i64 dv : {1, 5, 8, 9, 16, 31, 32, 33, 63, 64, 65, 128}) {
    for (int rows = 1; rows <= kRowsPerPass; rows += (rows < 4 ? 1 : 5))
      for (i64 n = 0; n <= 33; ++n) {
        const i64 ldv = dv + 1, ldp = 35;
        const std::size_t vn = static_cast<std::size_t>(std::max<i64>(1, (n - 1) * ldv + dv));  // ends at the guard
        GuardedArray<T> v(vn);
        std::vector<float> vw(vn);
        fill_kv(v.data(), vw.data(), vn, static_cast<std::uint32_t>(n + dv));
        std::vector<float> p(static_cast<std::size_t>(rows * ldp)), alpha(static_cast<std::size_t>(rows));
        fill_random(p.data(), p.size(), 3, 0.0f, 1.0f);
        fill_random(alpha.data(), alpha.size(), 4, 0.0f, 1.0f);
        std::vector<float> o0(static_cast<std::size_t>(rows * dv));
        fill_random(o0.data(), o0.size(), 5);
        std::vector<float> whole = o0, split = o0;
        std::vector<float*> wrows, srows;
        for (int r = 0; r < rows; ++r) wrows.push_back(whole.data() + r * dv), srows.push_back(split.data() + r * dv);
        const decode::Loops<T>& loops = dk.loops<T>();
        loops.pv(rows, p.data(), ldp, v.data(), ldv, n, dv, wrows.data(), alpha.data(), {v.data(), n});
        for (int r = 0; r < rows; ++r)
          for (i64 t = 0; t < dv; ++t) {
            double exact =
                static_cast<double>(alpha[static_cast<std::size_t>(r)]) * o0[static_cast<std::size_t>(r * dv + t)];
            double mag = std::abs(exact);
            for (i64 j = 0; j < n; ++j) {
              const double x = static_cast<double>(p[static_cast<std::size_t>(r * ldp + j)]) *
                               vw[static_cast<std::size_t>(j * ldv + t)];
              exact += x, mag += std::abs(x);
            }
            ASSERT_LE(std::abs(whole[static_cast<std::size_t>(r * dv + t)] - exact), gamma(n + 1) * mag)
                << dtype << ": rows " << rows << " n " << n << " dv " << dv;
          }
        // The contract the masked-NaN path relies on: each row alone, its columns in blocks of 7
        // (no register width), gives the same bits.
        for (int r = 0; r < rows; ++r)
          for (i64 c0 = 0; c0 < dv; c0 += 7) {
            float* o = srows[static_cast<std::size_t>(r)] + c0;
            loops.pv(1, p.data() + r * ldp, ldp, v.data() + c0, ldv, n, std::min<i64>(7, dv - c0), &o,
                     &alpha[static_cast<std::size_t>(r)], {});
          }
        ASSERT_EQ(whole, split) << dtype << ": rows " << rows << " n " << n << " dv " << dv;
      }
  }
}

TEST_P(DecodePerIsa, PvOnEveryTailMatchesFp64AndColumnBlocksBitForBit) {
  check_pv<float>(dk(), "f32");
  check_pv<f16>(dk(), "f16");
  check_pv<bf16>(dk(), "bf16");
}

/// Loops::pv_scores is bitwise pv of one row then scores of one row, on every tail of either
/// step, at head sizes around the one-row P·V tile (kOneRowPvVecs registers: 64 columns on AVX2,
/// 128 on AVX-512; half of it, 32 and 64, where dv is shorter) and past it; K and V end at guard
/// pages, and nothing past nsc is written.
template <class T>
void check_pv_scores(const decode::Kernels& dk, const char* dtype) {
  const float c = 0.37f;
  for (i64 d : {1, 17, 64, 128, 131, 256})  // d = dv = 64, 128, 256: with_head_size
    for (i64 dv : {1, 31, 33, 63, 64, 127, 128, 129, 256})
      for (i64 npv : {1, 3, 4, 5, 8, 9, 33, 128})
        for (i64 nsc : {0, 1, 4, 5, 9, 33, 128}) {
          const i64 ldk = d + 3, ldv = dv + 1;
          const std::size_t kn = static_cast<std::size_t>(std::max<i64>(1, (nsc - 1) * ldk + d));
          const std::size_t vn = static_cast<std::size_t>((npv - 1) * ldv + dv);
          GuardedArray<T> k(kn), v(vn);
          std::vector<float> kw(kn), vw(vn), q(static_cast<std::size_t>(d)), p(static_cast<std::size_t>(npv));
          fill_kv(k.data(), kw.data(), kn, static_cast<std::uint32_t>(nsc * 7 + d));
          fill_kv(v.data(), vw.data(), vn, static_cast<std::uint32_t>(npv + dv));
          fill_random(q.data(), q.size(), static_cast<std::uint32_t>(d + 11));
          fill_random(p.data(), p.size(), 3, 0.0f, 1.0f);
          const float alpha = 0.625f;
          std::vector<float> o0(static_cast<std::size_t>(dv));
          fill_random(o0.data(), o0.size(), 5);
          std::vector<float> o_two = o0, o_one = o0, s_two(129, kSentinel), s_one(129, kSentinel);
          const decode::Loops<T>& loops = dk.loops<T>();
          float* o = o_two.data();
          const float* qp = q.data();
          loops.pv(1, p.data(), 1, v.data(), ldv, npv, dv, &o, &alpha, {v.data(), npv});
          loops.scores(1, &qp, d, k.data(), ldk, nsc, c, s_two.data(), 1, {k.data(), nsc});
          loops.pv_scores(p.data(), v.data(), ldv, npv, dv, o_one.data(), alpha, {v.data(), npv}, q.data(), d, k.data(),
                          ldk, nsc, c, s_one.data(), {k.data(), nsc});
          ASSERT_EQ(o_one, o_two) << dtype << ": d " << d << " dv " << dv << " npv " << npv << " nsc " << nsc;
          ASSERT_EQ(s_one, s_two) << dtype << ": d " << d << " dv " << dv << " npv " << npv << " nsc " << nsc;
        }
}

TEST_P(DecodePerIsa, PvScoresIsBitwisePvThenScoresOnEveryTail) {
  check_pv_scores<float>(dk(), "f32");
  check_pv_scores<f16>(dk(), "f16");
  check_pv_scores<bf16>(dk(), "bf16");
}

// --- the whole kernel ----------------------------------------------------------

void expect_decode_matches_reference(const Case& c, int threads = 0) {
  Buffers ref(c), got(c);
  run(ref, "reference");
  run(got, "decode", threads);
  expect_matches_reference(got, ref, "decode");
}

TEST_P(DecodePerIsa, QueryRowsAndKeyTailsMatchReference) {
  ScopedIsa isa(GetParam());
  for (i64 nq = 1; nq <= 16; ++nq)
    for (Causal causal : {Causal::none, Causal::top_left, Causal::bottom_right})
      expect_decode_matches_reference(decode_case(1, 1, nq, 37, 24, causal, nq % 3 == 0));
  for (i64 nk = 1; nk <= 33; ++nk)
    for (i64 nq : {1, 3}) {
      expect_decode_matches_reference(decode_case(1, 1, nq, nk, 19));
      expect_decode_matches_reference(decode_case(1, 1, nq, nk, 19, Causal::bottom_right, true));
    }
}

TEST_P(DecodePerIsa, KeyTilesAndChunkBoundariesMatchReference) {
  ScopedIsa isa(GetParam());
  // Tiles of kTileKeys ± 1, the first split (2·kMinChunkKeys ± 1) and a split with a short last chunk.
  for (i64 nk : {kTileKeys - 1, kTileKeys, kTileKeys + 1, 3 * kTileKeys + 1, 2 * kMinChunkKeys - 1, 2 * kMinChunkKeys,
                 2 * kMinChunkKeys + 1, 5 * kMinChunkKeys + 33}) {
    const decode::Plan p = decode::make_plan(1, 4, 1, 2, nk, 16, 16, 1);
    EXPECT_EQ(p.chunks > 1, nk >= 2 * kMinChunkKeys) << nk;
    for (Causal causal : {Causal::none, Causal::top_left, Causal::bottom_right})
      expect_decode_matches_reference(decode_case(4, 1, 2, nk, 16, causal, causal == Causal::bottom_right));
  }
  // fp32 K/V of d = 128 step fewer keys (tile_keys): 8 (AVX-512: 16) in a pass of 4 rows, 16 in one of 8; ± 1.
  for (i64 nq : {1, 2}) {
    const i64 short_tile = decode::tile_keys(4 * nq, 2 * 128 * static_cast<i64>(sizeof(float)), dk().isa);
    EXPECT_LT(short_tile, kTileKeys);
    for (i64 nk : {short_tile - 1, short_tile + 1, 3 * short_tile + 1})
      expect_decode_matches_reference(decode_case(4, 1, nq, nk, 128, Causal::bottom_right, true));
  }
  // A pass of one row steps kOneRowTileKeys keys at a time: its tiles ± 1 and a short last one.
  for (i64 nk : {kOneRowTileKeys - 1, kOneRowTileKeys, kOneRowTileKeys + 1, 2 * kMinChunkKeys + kOneRowTileKeys + 7})
    for (Causal causal : {Causal::none, Causal::bottom_right})
      expect_decode_matches_reference(decode_case(1, 1, 1, nk, 16, causal, causal == Causal::bottom_right));
}

TEST_P(DecodePerIsa, GqaGroupsMatchReference) {
  ScopedIsa isa(GetParam());
  // Groups of 1, 4 and 8 query heads per K/V head; 8 heads × 3 rows = 24 rows take two passes.
  for (i64 group : {1, 4, 8})
    for (i64 nq : {1, 2, 3})
      for (i64 nk : {70, 1100}) {
        expect_decode_matches_reference(decode_case(2 * group, 2, nq, nk, 32));
        expect_decode_matches_reference(decode_case(2 * group, 2, nq, nk, 32, Causal::bottom_right, true));
        expect_decode_matches_reference(decode_case(2 * group, 2, nq, nk, 32, Causal::top_left));
      }
  Case c = decode_case(8, 2, 5, 300, 40, Causal::bottom_right, true);
  c.B = 3, c.dv = 24, c.permuted = true;  // batches, dv != d, heads interleaved in memory
  expect_decode_matches_reference(c);
}

TEST_P(DecodePerIsa, PaddedStridesMatchReference) {
  ScopedIsa isa(GetParam());
  // Every view with rows further apart than their length (a KV cache with room left): Q, K, V, O, LSE.
  const i64 B = 2, H = 4, Hkv = 2, nq = 3, nk = 1500, d = 20, dv = 12;
  auto padded = [](std::vector<float>& x, i64 h, i64 n, i64 cols, i64 ld) {
    x.assign(static_cast<std::size_t>(B * h * (n + 1) * ld), 0.0f);
    fill_random(x.data(), x.size(), static_cast<std::uint32_t>(ld));
    return Tensor{x.data(), {B, h, n, cols}, {h * (n + 1) * ld, (n + 1) * ld, ld, 1}};
  };
  std::vector<float> q, k, v, o, ref_o(static_cast<std::size_t>(B * H * nq * dv)), lse(B * H * nq * 2),
      ref_lse(B * H * nq);
  const Tensor qv = padded(q, H, nq, d, d + 3), kv = padded(k, Hkv, nk, d, d + 7), vv = padded(v, Hkv, nk, dv, dv + 5);
  const Tensor ov = padded(o, H, nq, dv, dv + 2);
  const Tensor lv{lse.data(), {B, H, nq, 1}, {H * nq * 2, nq * 2, 2, 1}};
  Options opts;
  opts.kernel = "decode";
  opts.causal = Causal::bottom_right;
  attention(qv, kv, vv, ov, lv, opts);
  opts.kernel = "reference";
  attention(qv, kv, vv, Tensor::contiguous(ref_o.data(), B, H, nq, dv), lse_view(ref_lse.data(), B, H, nq), opts);
  for (i64 b = 0; b < B; ++b)
    for (i64 h = 0; h < H; ++h)
      for (i64 i = 0; i < nq; ++i) {
        for (i64 t = 0; t < dv; ++t)
          EXPECT_NEAR(ov.row(b, h, i)[t], ref_o[static_cast<std::size_t>(((b * H + h) * nq + i) * dv + t)], 1e-5);
        EXPECT_NEAR(*lv.row(b, h, i), ref_lse[static_cast<std::size_t>((b * H + h) * nq + i)], 1e-5);
      }
}

TEST_P(DecodePerIsa, MaskedGarbageInKAndVGivesTheCleanBits) {
  ScopedIsa isa(GetParam());
  // Keys masked for every row (mask columns of -inf, and keys past every row's causal limit) hold
  // inf and NaN; the random mask hides other keys from some rows only, so tiles with garbage take
  // the row-by-row path while the clean run takes the shared one. Both must give the same bits.
  // Groups of 12 rows, and passes of one row at d = 128, whose steps run two at a time, on
  // across chunks (one_row_chunks: a step with garbage between clean ones; top_left: chunks
  // with no key to read).
  struct Shape {
    i64 H, Hkv, nq, d;
  };
  for (Shape sh : {Shape{8, 2, 3, 24}, Shape{2, 2, 1, 128}})
    for (i64 nk : {45, 1100, 3000})
      for (Causal causal : {Causal::none, Causal::top_left, Causal::bottom_right}) {
        Case c = decode_case(sh.H, sh.Hkv, sh.nq, nk, sh.d, causal, true);
        Buffers dirty(c), clean(c);
        auto garbage_at = [&](i64 j) { return j % 37 == 5 || (causal == Causal::top_left && j >= c.Nq) || j == 0; };
        for (Buffers* x : {&dirty, &clean})
          for (i64 i = 0; i < c.Nq; ++i)
            for (i64 j = 0; j < nk; ++j)
              if (garbage_at(j) && !(causal == Causal::top_left && j >= c.Nq))
                x->mask[static_cast<std::size_t>(i * nk + j)] = -kInf;
        for (i64 h = 0; h < c.Hkv; ++h)
          for (i64 j = 0; j < nk; ++j)
            if (garbage_at(j))
              for (i64 t = 0; t < c.d; ++t) {
                const std::size_t at = static_cast<std::size_t>((h * nk + j) * c.d + t);
                dirty.k[at] = t % 2 ? kNaN : kInf;
                dirty.v[at] = t % 3 ? -kInf : kNaN;
                clean.k[at] = clean.v[at] = 7.0f;
              }
        run(dirty, "decode");
        run(clean, "decode");
        EXPECT_EQ(dirty.out, clean.out) << c.name();
        EXPECT_EQ(dirty.lse, clean.lse) << c.name();
        for (float x : dirty.out) ASSERT_TRUE(std::isfinite(x)) << c.name();
        Buffers ref(clean.c);
        ref.k = clean.k, ref.v = clean.v, ref.mask = clean.mask;
        run(ref, "reference");
        expect_matches_reference(dirty, ref, "masked garbage");
      }
}

TEST_P(DecodePerIsa, FullyMaskedAndNaNRows) {
  ScopedIsa isa(GetParam());
  for (i64 nk : {50, 5000}) expect_masked_row_zero_and_nan_query_nan("decode", nk);  // one chunk, and several merged
}

TEST_P(DecodePerIsa, BitwiseSameForThreads1234) {
  ScopedIsa isa(GetParam());
  // The last: passes of one row, whose runs of chunks (9 a pass) are read as one stream, split
  // differently for each thread count.
  for (Case c : {decode_case(4, 1, 1, 5000, 64), decode_case(8, 2, 2, 3001, 24, Causal::bottom_right, true),
                 decode_case(2, 2, 16, 1200, 16, Causal::top_left), decode_case(16, 2, 3, 700, 8),
                 decode_case(2, 2, 1, 5000, 128, Causal::bottom_right, true)}) {
    c.B = 2;
    Buffers one(c);
    run(one, "decode", 1);
    for (int threads : {2, 3, 4}) {
      Buffers many(c);
      run(many, "decode", threads);
      EXPECT_EQ(one.out, many.out) << c.name() << ", " << threads << " threads";
      EXPECT_EQ(one.lse, many.lse) << c.name() << ", " << threads << " threads";
    }
  }
}

TEST_P(DecodePerIsa, InputsEndingAtAGuardPage) {
  ScopedIsa isa(GetParam());
  for (const Case& c : {decode_case(1, 1, 1, 37, 19, Causal::none, true),
                        decode_case(4, 1, 3, 1100, 19, Causal::bottom_right, true), decode_case(8, 8, 1, 33, 13)}) {
    Buffers ref(c), got(c);
    run(ref, "reference");
    expect_matches_reference_on_guarded_inputs(ref, got, "decode");
  }
}

// --- 16-bit K and V ----------------------------------------------------------------

/// decode with b's K and V rounded to T, each ending at a guard page (Q, O, mask, LSE fp32),
/// into b.out and b.lse; b.k and b.v become the widened values (what fp32 K and V would hold).
template <class T>
void run_with_kv_as(Buffers& b, int threads) {
  const Case& c = b.c;
  GuardedArray<T> k(b.k.size()), v(b.v.size());
  for (std::size_t i = 0; i < b.k.size(); ++i) k[i] = from_float<T>(b.k[i]), b.k[i] = to_float(k[i]);
  for (std::size_t i = 0; i < b.v.size(); ++i) v[i] = from_float<T>(b.v[i]), b.v[i] = to_float(v[i]);
  using View = TensorView<const T>;
  attention(b.qv(), View::contiguous(k.data(), c.B, c.Hkv, c.Nk, c.d),
            View::contiguous(v.data(), c.B, c.Hkv, c.Nk, c.dv), b.outv(), b.lsev(), b.options("decode", threads));
}

/// 16-bit K and V are widened exactly on load and everything after is the fp32 arithmetic, so
/// where the 16-bit run steps through the keys as the fp32 one does (tile_keys budgets real
/// bytes, so a pass of several rows may take twice the keys at 16 bits) the result is bitwise
/// that of fp32 K and V holding the widened values; for every thread count bitwise the same;
/// and no load reads past the end of K or V (guard pages). Returns whether it compared with fp32.
template <class T>
bool expect_kv_as_widened_fp32(const Case& c) {
  const i64 rows = std::min(kRowsPerPass, c.H / c.Hkv * c.Nq);
  const fused::Isa isa = decode::kernels_for(fused::active_ukernels().isa).isa;  // the driver's table (fp32 Q)
  const auto tile = [&](i64 bytes) { return std::min(c.Nk, decode::tile_keys(rows, (c.d + c.dv) * bytes, isa)); };
  const bool same_steps = tile(sizeof(T)) == tile(sizeof(float));
  Buffers fp32(c), one(c);
  run_with_kv_as<T>(one, 1);
  if (same_steps) {
    fp32.k = one.k, fp32.v = one.v;
    run(fp32, "decode", 1);
    EXPECT_EQ(one.out, fp32.out) << c.name();
    EXPECT_EQ(one.lse, fp32.lse) << c.name();
  }
  for (int threads : {2, 3}) {
    Buffers sixteen(c);
    run_with_kv_as<T>(sixteen, threads);
    EXPECT_EQ(sixteen.out, one.out) << c.name() << ", " << threads << " threads";
    EXPECT_EQ(sixteen.lse, one.lse) << c.name() << ", " << threads << " threads";
  }
  return same_steps;
}

TEST_P(DecodePerIsa, SixteenBitKvIsBitwiseTheWidenedFp32OnEveryTailAndThreadCount) {
  ScopedIsa isa(GetParam());
  std::vector<Case> cases;
  for (i64 nk = 1; nk <= 33; ++nk)
    cases.push_back(decode_case(1, 1, nk % 3 + 1, nk, 19, Causal::bottom_right, nk % 2 == 0));
  for (i64 d : {1, 7, 16, 33}) cases.push_back(decode_case(4, 1, 1, 45, d));
  cases.push_back(decode_case(8, 2, 3, 1100, 24, Causal::bottom_right, true));  // GQA, two chunks, two passes
  cases.push_back(decode_case(8, 8, 1, 2 * kMinChunkKeys + 33, 128));           // the LLM shape, split keys
  cases.push_back(decode_case(32, 8, 1, 2 * kMinChunkKeys + 33,
                              128));  // its GQA group: 16 keys a step at 16 bits, 8 at 32 (AVX-512: 32, 16)
  Case dv = decode_case(4, 2, 2, 300, 40, Causal::top_left);
  dv.dv = 24, dv.B = 2;
  cases.push_back(dv);
  int compared = 0;
  for (const Case& c : cases) {
    compared += expect_kv_as_widened_fp32<f16>(c);
    compared += expect_kv_as_widened_fp32<bf16>(c);
  }
  // Only the GQA LLM group steps otherwise, and where a pass of 4 rows has 8 KiB a step (not
  // AVX-512) the d = 33 one too.
  EXPECT_EQ(compared, 2 * static_cast<int>(cases.size()) - (dk().isa == fused::Isa::avx512 ? 2 : 4));
}

// --- selection and memory --------------------------------------------------------

Problem problem(i64 H, i64 Hkv, i64 nq, i64 nk, i64 d = 128) {
  Problem p;
  p.heads = H, p.kv_heads = Hkv, p.q_len = nq, p.kv_len = nk, p.head_dim = p.value_dim = d, p.threads = 2;
  return p;
}

TEST(Decode, AutoPicksItForFewRowsPerKvHeadOnly) {
  auto picked = [](const Problem& p) { return std::string(select_kernel("auto", p, default_memory_budget()).name); };
  EXPECT_EQ(picked(problem(8, 8, 1, 32768)), "decode");
  EXPECT_EQ(picked(problem(32, 8, 1, 32768)), "decode");  // GQA: 4 rows per K/V head
  EXPECT_EQ(picked(problem(8, 1, 2, 4096)), "decode");    // 16 rows per K/V head
  EXPECT_EQ(picked(problem(1, 1, 16, 64)), "decode");
  EXPECT_EQ(picked(problem(8, 1, 3, 4096)), "fused");  // 24 rows: the fused kernel's packed tiles win
  EXPECT_EQ(picked(problem(1, 1, 17, 4096)), "fused");
  EXPECT_EQ(picked(problem(1, 1, 1, decode::kAutoMinKeys - 1, 4)), "fused");  // the fused tiny path
  EXPECT_EQ(picked(problem(1, 1, 3, 3, 4)), "fused");                         // the lab sentences
}

TEST(Decode, WorkspaceOnlyForSplitKeysAndBoundByTheChunkCount) {
  const KernelInfo* k = find_kernel("decode");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->workspace_bytes(problem(32, 8, 1, 2 * kMinChunkKeys - 1)), 0u);  // one chunk: written in place
  EXPECT_EQ(k->workspace_bytes(problem(1, 1, 3, 3, 4)), 0u);
  // Split: one partial row (dv + 2 floats, rounded to 64 bytes) per query row and chunk, at most kMaxChunks.
  const std::size_t most = 32 * 1 * decode::kMaxChunks * (128 + 16) * sizeof(float);
  EXPECT_EQ(k->workspace_bytes(problem(32, 8, 1, 1 << 17)), most);
  EXPECT_EQ(k->workspace_bytes(problem(32, 8, 1, 1 << 20)), most);
}

}  // namespace
}  // namespace attn::test
