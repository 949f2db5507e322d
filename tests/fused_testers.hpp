// Test helpers for the fused kernel: a buffer that ends exactly at a
// PROT_NONE guard page (an over-read faults), and tester builders for the
// microkernel families in the style of XNNPACK's GemmMicrokernelTester: each
// takes the kernel function and its register tile (mr, nr), not a whole table,
// so a second tile or another element type is tested the same way.
#pragma once

#include "fused/ukernels.hpp"
#include "testkit.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

namespace attn::test {

using fused::i64;

/// Makes one ISA the active table for the scope of a test (the fused kernel's, which the
/// decode kernel follows).
class ScopedIsa {
 public:
  explicit ScopedIsa(fused::Isa isa) : saved_(fused::active_ukernels().isa) { EXPECT_TRUE(fused::force_isa(isa)); }
  ~ScopedIsa() { fused::force_isa(saved_); }

 private:
  fused::Isa saved_;
};

// Every ISA the library carries, supported here or not: ctest lists the cases when the suite is
// built, and a case for an ISA this process may not use (the CPU lacks it, or ATTN_ISA lowered
// it) must say "skipped", not pass having run nothing.
inline std::vector<fused::Isa> isas() {
  return {fused::Isa::scalar, fused::Isa::avx2, fused::Isa::avx512};
}

/// The ISAs this process may use.
inline std::vector<fused::Isa> usable_isas() {
  const auto s = fused::supported_isas();
  return {s.begin(), s.end()};
}

/// A test per ISA that skips (saying so) where this process may not use the ISA.
class UsableIsaTest : public ::testing::TestWithParam<fused::Isa> {
 protected:
  void SetUp() override {
    if (fused::ukernels_for(GetParam()) == nullptr)
      GTEST_SKIP() << fused::isa_name(GetParam()) << ": not usable in this process (CPU or ATTN_ISA)";
  }
};

/// n elements of T whose last one ends right before an inaccessible page.
template <class T>
class GuardedArray {
 public:
  explicit GuardedArray(std::size_t n) : n_(n) {
    const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    const std::size_t data_pages = (n * sizeof(T) + page - 1) / page;
    bytes_ = (data_pages + 1) * page;
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap failed");
    base_ = static_cast<std::byte*>(p);
    if (mprotect(base_ + data_pages * page, page, PROT_NONE) != 0) throw std::runtime_error("mprotect failed");
    data_ = reinterpret_cast<T*>(base_ + data_pages * page) - n;
  }
  ~GuardedArray() { munmap(base_, bytes_); }
  GuardedArray(const GuardedArray&) = delete;
  GuardedArray& operator=(const GuardedArray&) = delete;
  T* data() { return data_; }
  T& operator[](std::size_t i) { return data_[i]; }
  std::size_t size() const { return n_; }

 private:
  std::byte* base_ = nullptr;
  std::size_t bytes_ = 0, n_ = 0;
  T* data_ = nullptr;
};
using GuardedFloats = GuardedArray<float>;

/// A decode-shaped case: H query heads over Hkv K/V heads, nq query rows, nk keys, d = dv.
inline Case decode_case(i64 H, i64 Hkv, i64 nq, i64 nk, i64 d, Causal causal = Causal::none, bool mask = false) {
  Case c = Case{}.shape(nq, nk, d);
  c.H = H, c.Hkv = Hkv, c.causal = causal, c.mask = mask;
  return c;
}

/// Runs `kernel` on copies of ref's Q, K, V and mask that each end at a guard page (dense
/// layout), into got, and checks it against ref's reference outputs: no read past any input.
inline void expect_matches_reference_on_guarded_inputs(const Buffers& ref, Buffers& got, const std::string& kernel) {
  const Case& c = ref.c;
  GuardedFloats q(ref.q.size()), k(ref.k.size()), v(ref.v.size()), m(std::max<std::size_t>(ref.mask.size(), 1));
  std::copy(ref.q.begin(), ref.q.end(), q.data());
  std::copy(ref.k.begin(), ref.k.end(), k.data());
  std::copy(ref.v.begin(), ref.v.end(), v.data());
  std::copy(ref.mask.begin(), ref.mask.end(), m.data());
  Options o = got.options(kernel);
  if (c.mask) o.mask.data = m.data();
  attention(ConstTensor::contiguous(q.data(), c.B, c.H, c.Nq, c.d),
            ConstTensor::contiguous(k.data(), c.B, c.Hkv, c.Nk, c.d),
            ConstTensor::contiguous(v.data(), c.B, c.Hkv, c.Nk, c.dv), got.outv(), got.lsev(), o);
  expect_matches_reference(got, ref, "guard pages");
}

inline void fill_random(float* x, std::size_t n, std::uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (std::size_t i = 0; i < n; ++i) x[i] = dist(gen);
}

constexpr float kSentinel = -12345.0f;  // what the kernel must not overwrite
constexpr double kU = 0x1p-24;          // fp32 unit roundoff

/// Higham's γ_k = k u / (1 − k u): the bound on the relative error of a k-term fp32 dot product.
inline double gamma(i64 k) {
  return static_cast<double>(k) * kU / (1.0 - static_cast<double>(k) * kU);
}

/// Depths for an mr × nr tile: 1 and 2, around mr and nr (a loop unrolled by the tile's rows
/// or columns gets its remainder cases), and long ones (2·nr + 1, 8·nr + 1).
inline std::vector<i64> depths_for_tile(int mr, int nr) {
  std::vector<i64> k = {1, 2, mr - 1, mr, mr + 1, nr - 1, nr, nr + 1, 2 * nr + 1, 8 * nr + 1};
  k.erase(std::remove_if(k.begin(), k.end(), [](i64 v) { return v < 1; }), k.end());
  std::sort(k.begin(), k.end());
  k.erase(std::unique(k.begin(), k.end()), k.end());
  return k;
}

using QkKernel = decltype(fused::Ukernels::qk);
using PvKernel = decltype(fused::Ukernels::pv);

/// S tile = Q panel · Kᵀ panel: checks every written element against an fp64 dot product
/// within γ_k Σ|q k| and that nothing outside the m × n sub-tile is written.
class QkTester {
 public:
  /// The kernel's register tile (the packed panels' widths).
  QkTester& mr(int v) {
    mr_ = v;
    return *this;
  }
  QkTester& nr(int v) {
    nr_ = v;
    return *this;
  }
  QkTester& m(int v) {
    m_ = v;
    return *this;
  }
  QkTester& n(int v) {
    n_ = v;
    return *this;
  }
  QkTester& k(i64 v) {
    k_ = v;
    return *this;
  }
  QkTester& lds(i64 v) {
    lds_ = v;
    return *this;
  }

  void Test(QkKernel qk) const {
    const i64 lds = lds_ ? lds_ : nr_ + 3;
    // Operands end at a guard page: reading past the packed panels faults.
    GuardedFloats qp(static_cast<std::size_t>(k_ * mr_)), kp(static_cast<std::size_t>(k_ * nr_));
    GuardedFloats s(static_cast<std::size_t>((mr_ - 1) * lds + nr_));
    fill_random(qp.data(), qp.size(), 11);
    fill_random(kp.data(), kp.size(), 12);
    std::fill_n(s.data(), s.size(), kSentinel);
    qk(k_, qp.data(), kp.data(), s.data(), lds, m_, n_);
    for (int r = 0; r < mr_; ++r)
      for (int c = 0; c < nr_; ++c) {
        const float got = s[static_cast<std::size_t>(r * lds + c)];
        if (r >= m_ || c >= n_) {
          EXPECT_EQ(got, kSentinel) << "wrote outside the " << m_ << "x" << n_ << " tile at (" << r << ", " << c << ")";
          continue;
        }
        double exact = 0, mag = 0;
        for (i64 t = 0; t < k_; ++t) {
          const double prod = static_cast<double>(qp[static_cast<std::size_t>(t * mr_ + r)]) *
                              kp[static_cast<std::size_t>(t * nr_ + c)];
          exact += prod;
          mag += std::abs(prod);
        }
        EXPECT_LE(std::abs(got - exact), gamma(k_) * mag)
            << "m=" << m_ << " n=" << n_ << " k=" << k_ << " at (" << r << ", " << c << ")";
      }
  }

  /// Every sub-tile m ∈ [1, mr] × n ∈ [1, nr] at every depth of depths_for_tile.
  void TestEverySubTile(QkKernel qk) const {
    for (i64 k : depths_for_tile(mr_, nr_))
      for (int m = 1; m <= mr_; ++m)
        for (int n = 1; n <= nr_; ++n) QkTester(*this).m(m).n(n).k(k).Test(qk);
  }

 private:
  int mr_ = 1, nr_ = 1, m_ = 1, n_ = 1;
  i64 k_ = 1, lds_ = 0;
};

/// O tile = P · V or α·O + P · V with V read in place: the same checks, with V's last row
/// ending at a guard page and only n columns of it readable in the last row.
class PvTester {
 public:
  /// The kernel's register tile: mr rows, nr (its PV_NR) columns.
  PvTester& mr(int v) {
    mr_ = v;
    return *this;
  }
  PvTester& nr(int v) {
    nr_ = v;
    return *this;
  }
  PvTester& m(int v) {
    m_ = v;
    return *this;
  }
  PvTester& n(int v) {
    n_ = v;
    return *this;
  }
  PvTester& k(i64 v) {
    k_ = v;
    return *this;
  }
  PvTester& ldv(i64 v) {
    ldv_ = v;
    return *this;
  }
  /// Rescale-and-accumulate (O = α_r·O + P V, α_r random in [0, 1]) instead of β = 0.
  PvTester& accumulate(bool v) {
    acc_ = v;
    return *this;
  }

  void Test(PvKernel pv) const {
    const i64 ldp = k_ + 5, ldo = nr_ + 7, ldv = ldv_ ? ldv_ : n_ + 2;
    GuardedFloats p(static_cast<std::size_t>((m_ - 1) * ldp + k_));  // exactly m rows of P
    GuardedFloats v(static_cast<std::size_t>((k_ - 1) * ldv + n_));  // exactly k rows, n columns in the last
    GuardedFloats o(static_cast<std::size_t>((mr_ - 1) * ldo + nr_));
    fill_random(p.data(), p.size(), 21, 0.0f, 1.0f);
    fill_random(v.data(), v.size(), 22);
    std::vector<float> before(o.size());
    fill_random(before.data(), before.size(), 23);
    for (int r = 0; r < mr_; ++r)
      for (int c = 0; c < nr_; ++c) {
        const std::size_t at = static_cast<std::size_t>(r * ldo + c);
        // β = 0 must overwrite, never scale: a NaN there would poison a multiply by 0.
        o[at] = r < m_ && c < n_ ? (acc_ ? before[at] : NAN) : kSentinel;
      }
    GuardedFloats alpha(static_cast<std::size_t>(m_));  // exactly m factors are readable
    fill_random(alpha.data(), alpha.size(), 24, 0.0f, 1.0f);
    pv(k_, p.data(), ldp, v.data(), ldv, o.data(), ldo, m_, n_, acc_ ? alpha.data() : nullptr);
    for (int r = 0; r < mr_; ++r)
      for (int c = 0; c < nr_; ++c) {
        const std::size_t at = static_cast<std::size_t>(r * ldo + c);
        if (r >= m_ || c >= n_) {
          EXPECT_EQ(o[at], kSentinel) << "wrote outside the " << m_ << "x" << n_ << " tile at (" << r << ", " << c
                                      << ")";
          continue;
        }
        double exact = acc_ ? static_cast<double>(alpha[static_cast<std::size_t>(r)]) * before[at] : 0.0,
               mag = std::abs(exact);
        for (i64 j = 0; j < k_; ++j) {
          const double prod =
              static_cast<double>(p[static_cast<std::size_t>(r * ldp + j)]) * v[static_cast<std::size_t>(j * ldv + c)];
          exact += prod;
          mag += std::abs(prod);
        }
        EXPECT_LE(std::abs(o[at] - exact), gamma(k_ + 1) * mag)
            << "m=" << m_ << " n=" << n_ << " k=" << k_ << " acc=" << acc_ << " at (" << r << ", " << c << ")";
      }
  }

  /// Every sub-tile m ∈ [1, mr] × n ∈ [1, nr] at every depth of depths_for_tile, β = 0 and accumulating.
  void TestEverySubTile(PvKernel pv) const {
    for (bool acc : {false, true})
      for (i64 k : depths_for_tile(mr_, nr_))
        for (int m = 1; m <= mr_; ++m)
          for (int n = 1; n <= nr_; ++n) PvTester(*this).m(m).n(n).k(k).accumulate(acc).Test(pv);
  }

 private:
  int mr_ = 1, nr_ = 1, m_ = 1, n_ = 1;
  i64 k_ = 1, ldv_ = 0;
  bool acc_ = false;
};

}  // namespace attn::test
