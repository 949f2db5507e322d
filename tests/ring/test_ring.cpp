// ring_attention under mpirun (-np 1..4): every rank builds the same global inputs from one
// seed, computes its share through the ring and checks its own rows against the fp64
// reference and the single-process fused kernel. A failure on any rank fails the job (main).
#include "../testkit.hpp"

#include <attn/ring.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

namespace attn::test {
namespace {

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int world_size() {
  int p = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &p);
  return p;
}

/// One rank's share of a Case and its ring result.
struct Local {
  std::vector<RowRange> q_rows, kv_rows;
  std::vector<float> q, k, v, mask, out, lse;
  i64 nq = 0, nk = 0;
};

/// Rows held by `rank` when rank r holds lengths[r] contiguous rows.
std::vector<RowRange> contiguous_share(const std::vector<i64>& lengths, int rank) {
  i64 start = 0;
  for (int r = 0; r < rank; ++r) start += lengths[r];
  return {{start, lengths[rank]}};
}

i64 total(const std::vector<RowRange>& rows) {
  i64 n = 0;
  for (const RowRange r : rows) n += r.length;
  return n;
}

/// Runs the ring on this rank's share of `b` (inputs only are read).
Local run_ring(const Buffers& b, std::vector<RowRange> q_rows, std::vector<RowRange> kv_rows, RingLayout layout,
               int threads, bool poll_progress = true) {
  const Case& c = b.c;
  Local l;
  l.q_rows = std::move(q_rows), l.kv_rows = std::move(kv_rows);
  l.nq = total(l.q_rows), l.nk = total(l.kv_rows);
  l.q.resize(static_cast<std::size_t>(c.B * c.H * l.nq * c.d) + 1);
  l.k.resize(static_cast<std::size_t>(c.B * c.Hkv * l.nk * c.d) + 1);
  l.v.resize(static_cast<std::size_t>(c.B * c.Hkv * l.nk * c.dv) + 1);
  l.out.assign(static_cast<std::size_t>(c.B * c.H * l.nq * c.dv) + 1, NAN);
  l.lse.assign(static_cast<std::size_t>(c.B * c.H * l.nq) + 1, NAN);
  const Tensor q = Tensor::contiguous(l.q.data(), c.B, c.H, l.nq, c.d);
  const Tensor k = Tensor::contiguous(l.k.data(), c.B, c.Hkv, l.nk, c.d);
  const Tensor v = Tensor::contiguous(l.v.data(), c.B, c.Hkv, l.nk, c.dv);
  gather_rows(b.qv(), l.q_rows, q);
  gather_rows(b.kv(), l.kv_rows, k);
  gather_rows(b.vv(), l.kv_rows, v);
  RingOptions o;
  o.attention = b.options("fused", threads);
  o.layout = layout;
  o.poll_progress = poll_progress;
  if (c.mask) {  // this rank's query rows × the global keys
    l.mask.resize(static_cast<std::size_t>(l.nq * c.Nk) + 1);
    gather_rows(ConstTensor::contiguous(b.mask.data(), 1, 1, c.Nq, c.Nk), l.q_rows,
                Tensor::contiguous(l.mask.data(), 1, 1, l.nq, c.Nk));
    o.attention.mask = Mask{l.mask.data(), l.nq, c.Nk, 0};
  }
  ring_attention(MPI_COMM_WORLD, q, k, v, Tensor::contiguous(l.out.data(), c.B, c.H, l.nq, c.dv),
                 lse_view(l.lse.data(), c.B, c.H, l.nq), o);
  return l;
}

/// Largest |x − reference| over this rank's rows of out (dv columns) and lse (lse = true).
double max_error(const Case& c, const std::vector<RowRange>& rows, const std::vector<float>& local,
                 const std::vector<float>& global, bool lse) {
  const i64 D = lse ? 1 : c.dv;
  double e = 0;
  for (i64 bh = 0; bh < c.B * c.H; ++bh) {
    i64 l = 0;
    for (const RowRange r : rows)
      for (i64 i = 0; i < r.length; ++i, ++l)
        for (i64 t = 0; t < D; ++t) {
          const double x = local[static_cast<std::size_t>((bh * total(rows) + l) * D + t)];
          const double y = global[static_cast<std::size_t>((bh * c.Nq + r.start + i) * D + t)];
          if (std::isinf(x) && x == y) continue;  // a row with no visible key: lse = -inf on both
          e = std::max(e, std::isnan(x) != std::isnan(y) ? INFINITY : std::abs(x - y));
        }
  }
  return e;
}

/// The ring against the reference: at most 2× the single-process fused error, plus a floor of
/// 8 ulps of the output's scale (|V| <= 1, |lse| <= log Nk + max |logit|), because on tiny
/// problems the fused error can be exactly 0 while the merge rounds a few times.
void expect_close(const Buffers& b, const Local& l, const std::string& what) {
  const Case& c = b.c;
  Buffers ref(c), fused(c);
  run(ref, "reference", 1);
  run(fused, "fused", 1);
  const double u = std::ldexp(1.0, -24);
  const auto all_q = std::vector<RowRange>{{0, c.Nq}};
  for (bool lse : {false, true}) {
    const auto& r = lse ? ref.lse : ref.out;
    const double fused_err = max_error(c, all_q, lse ? fused.lse : fused.out, r, lse);
    const double ring_err = max_error(c, l.q_rows, lse ? l.lse : l.out, r, lse);
    const double floor = 8 * u * (lse ? std::log(static_cast<double>(std::max<i64>(c.Nk, 2))) + c.d : 1.0);
    EXPECT_LE(ring_err, 2 * fused_err + floor) << what << (lse ? " lse" : " out") << " rank " << world_rank()
                                               << ": ring " << ring_err << ", fused " << fused_err;
  }
}

void expect_bitwise_equal(const Local& a, const Local& b, const std::string& what) {
  EXPECT_EQ(0, std::memcmp(a.out.data(), b.out.data(), a.out.size() * sizeof(float))) << what << " out";
  EXPECT_EQ(0, std::memcmp(a.lse.data(), b.lse.data(), a.lse.size() * sizeof(float))) << what << " lse";
}

struct Variant {
  const char* name;
  Causal causal;
  i64 H, Hkv;
  bool mask;
};
const Variant kVariants[] = {
    {"plain", Causal::none, 1, 1, false},
    {"top-left", Causal::top_left, 2, 2, false},
    {"bottom-right", Causal::bottom_right, 1, 1, false},
    {"gqa-causal", Causal::top_left, 4, 2, false},
    {"mask", Causal::none, 2, 1, true},
    {"mask-causal", Causal::bottom_right, 1, 1, true},
    {"gqa-mask-bottom-right", Causal::bottom_right, 6, 2, true},
};

// Every local row count 0 .. 3P+1, different on every rank (empty ranks included), queries and
// keys split differently, so Nq != Nk globally and blocks are uneven.
TEST(Ring, ContiguousUnevenBlocksMatchReference) {
  const int P = world_size(), rank = world_rank();
  for (const Variant& var : kVariants)
    for (i64 m = 0; m <= 3 * P + 1; ++m) {
      std::vector<i64> nq(P), nk(P);
      for (int r = 0; r < P; ++r) nq[r] = (m + 2 * r) % (3 * P + 2), nk[r] = (m + 3 * r + 1) % (3 * P + 2);
      Case c;
      c.H = var.H, c.Hkv = var.Hkv, c.d = c.dv = 8, c.causal = var.causal, c.mask = var.mask;
      c.Nq = 0, c.Nk = 0;
      for (int r = 0; r < P; ++r) c.Nq += nq[r], c.Nk += nk[r];
      c.seed = static_cast<std::uint64_t>(100 + m);
      const Buffers b(c);
      const std::string what = std::string(var.name) + " m=" + std::to_string(m);
      const Local l = run_ring(b, contiguous_share(nq, rank), contiguous_share(nk, rank), RingLayout::contiguous, 1);
      expect_close(b, l, what);
    }
}

TEST(Ring, ZigzagMatchesReference) {
  const int P = world_size(), rank = world_rank();
  for (const Variant& var : kVariants)
    for (i64 n : {i64{0}, i64{1}, i64{P}, i64{2 * P - 1}, i64{2 * P + 3}, i64{6 * P + 1}, i64{37}}) {
      Case c;
      c.H = var.H, c.Hkv = var.Hkv, c.d = c.dv = 8, c.causal = var.causal, c.mask = var.mask;
      c.Nq = n, c.Nk = var.causal == Causal::bottom_right ? n + 3 : n;
      c.seed = static_cast<std::uint64_t>(200 + n);
      const Buffers b(c);
      const Local l = run_ring(b, ring_rows(RingLayout::zigzag, c.Nq, P, rank),
                               ring_rows(RingLayout::zigzag, c.Nk, P, rank), RingLayout::zigzag, 1);
      expect_close(b, l, std::string(var.name) + " zigzag n=" + std::to_string(n));
    }
}

// Blocks of 512 rows and more are computed in pieces of query rows with MPI_Testall between
// them: every piece's offsets and mask rows must be its own (causal both alignments, mask,
// GQA, both layouts), and the bits the same for any thread count and with polling off.
TEST(Ring, BlocksComputedInPiecesMatchReference) {
  const int P = world_size(), rank = world_rank();
  for (RingLayout layout : {RingLayout::contiguous, RingLayout::zigzag})
    for (const Variant& var : kVariants) {
      if (var.causal == Causal::none) continue;  // the mask alone: in mask-causal
      Case c;
      c.H = var.H, c.Hkv = var.Hkv, c.d = c.dv = 4, c.causal = var.causal, c.mask = var.mask;
      // At least 2 × 256 rows in each of a rank's ranges (zig-zag: two ranges per rank, so
      // twice the rows: one variant only, the time of the fp64 reference on every rank).
      if (layout == RingLayout::zigzag && !var.mask) continue;
      c.Nq = (layout == RingLayout::zigzag ? 1040 : 520) * P + 7;
      c.Nk = var.causal == Causal::bottom_right ? c.Nq + 37 : c.Nq;
      c.seed = 300;
      const Buffers b(c);
      const auto qr = ring_rows(layout, c.Nq, P, rank), kr = ring_rows(layout, c.Nk, P, rank);
      const std::string what = std::string(var.name) + (layout == RingLayout::zigzag ? " zigzag" : " contiguous");
      const Local l = run_ring(b, qr, kr, layout, 1);
      expect_close(b, l, what + " in pieces");
      expect_bitwise_equal(l, run_ring(b, qr, kr, layout, 2), what + " threads=2");
      expect_bitwise_equal(l, run_ring(b, qr, kr, layout, 1, false), what + " without polling");
    }
}

// Fixed P and split: bitwise identical run to run and for 1, 2 or 3 threads per rank.
TEST(Ring, BitwiseIdenticalAcrossRunsAndThreads) {
  const int P = world_size(), rank = world_rank();
  for (RingLayout layout : {RingLayout::contiguous, RingLayout::zigzag}) {
    Case c;
    c.H = 4, c.Hkv = 2, c.d = c.dv = 32, c.causal = Causal::top_left;
    c.Nq = c.Nk = 96 * P + 5;
    const Buffers b(c);
    const auto qr = ring_rows(layout, c.Nq, P, rank), kr = ring_rows(layout, c.Nk, P, rank);
    const Local first = run_ring(b, qr, kr, layout, 1);
    expect_close(b, first, "determinism case");
    for (int threads : {1, 2, 3})
      expect_bitwise_equal(first, run_ring(b, qr, kr, layout, threads), "threads=" + std::to_string(threads));
  }
}

std::string thrown_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// A bad argument on one rank: every rank throws the same message naming that rank; none hangs.
TEST(Ring, ErrorOnOneRankIsEveryRanksError) {
  const int P = world_size(), rank = world_rank();
  const int bad = P - 1;
  std::vector<float> q(4 * 8, 0.5f), k(4 * 8, 0.5f), v(4 * 8, 0.5f), out(4 * 8), lse(4);
  const i64 d = rank == bad ? 6 : 8;  // q and k disagree on d on the bad rank
  const std::string msg = thrown_message([&] {
    ring_attention(MPI_COMM_WORLD, view2d(q.data(), 4, d), view2d(k.data(), 4, 8), view2d(v.data(), 4, 8),
                   view2d(out.data(), 4, 8), lse_view(lse.data(), 1, 1, 4));
  });
  EXPECT_NE(msg.find("ring_attention: rank " + std::to_string(bad) + ": "), std::string::npos) << msg;
  std::vector<char> first(256, 0);
  if (rank == 0) std::strncpy(first.data(), msg.c_str(), first.size() - 1);
  MPI_Bcast(first.data(), static_cast<int>(first.size()), MPI_CHAR, 0, MPI_COMM_WORLD);
  EXPECT_EQ(std::string(first.data()), msg.substr(0, first.size() - 1));

  // A rank whose zigzag share is wrong (one row too many).
  const std::string zz = thrown_message([&] {
    const i64 n = rank == 0 ? 4 : 0;
    RingOptions o;
    o.layout = RingLayout::zigzag;
    ring_attention(MPI_COMM_WORLD, view2d(q.data(), n, 8), view2d(k.data(), n, 8), view2d(v.data(), n, 8),
                   view2d(out.data(), n, 8), Tensor{}, o);
  });
  if (P > 1) {
    EXPECT_NE(zz.find("zigzag layout"), std::string::npos) << zz;
  }
}

TEST(RingRows, ZigzagCoversEverySequenceOnce) {
  for (int P = 1; P <= 5; ++P)
    for (i64 n = 0; n <= 4 * P + 3; ++n) {
      std::vector<int> seen(static_cast<std::size_t>(n), 0);
      for (int r = 0; r < P; ++r)
        for (const RowRange rr : ring_rows(RingLayout::zigzag, n, P, r))
          for (i64 i = 0; i < rr.length; ++i) ++seen[static_cast<std::size_t>(rr.start + i)];
      EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int s) { return s == 1; })) << P << " " << n;
    }
  EXPECT_THROW(ring_rows(RingLayout::zigzag, 4, 2, 2), Error);
}

}  // namespace
}  // namespace attn::test

/// On ranks other than 0: prints only failures, prefixed with the rank.
class FailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (r.failed())
      std::fprintf(stderr, "[rank %d] %s:%d: %s\n", rank_, r.file_name() ? r.file_name() : "?", r.line_number(),
                   r.summary());
  }

 private:
  int rank_;
};

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) {  // one report: other ranks print only their failures
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new FailurePrinter(rank));
  }
  const int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  int any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (failed) std::fprintf(stderr, "test_ring: rank %d failed\n", rank);
  MPI_Finalize();
  return any;
}
