// attn_ring_scaling: one ring_attention call timed under mpirun, and the link it runs on.
//   mpirun -np P attn_ring_scaling [--n N] [--d D] [--causal none|top-left] [--layout contiguous|zigzag]
//                                  [--threads T] [--reps R] [--pingpong] [--kv] [--no-poll]
// Prints the slowest rank's time split into compute, exposed communication and merge (the
// best of R calls), and with --pingpong (--reps 0: only that) the latency and bandwidth between ranks 0 and 1 that
// docs/distributed.md's cost model is fitted to. Inputs are seeded uniform [-1, 1).
// --kv adds one line of key=value pairs for programs (the `ring` suite, bench/bench_ring.cpp).
// --no-poll turns RingOptions::poll_progress off (to measure what polling while computing hides).
#include <attn/ring.hpp>

#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using i64 = std::int64_t;

struct Args {
  i64 n = 16384, d = 128;
  attn::Causal causal = attn::Causal::none;
  attn::RingLayout layout = attn::RingLayout::contiguous;
  int threads = 1, reps = 3;
  bool pingpong = false, kv = false, poll = true;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "attn_ring_scaling: %s\n(see the comment at the top of bench/ring_scaling.cpp)\n", why);
  MPI_Abort(MPI_COMM_WORLD, 2);
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string f = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value after " + f).c_str());
      return argv[++i];
    };
    if (f == "--n")
      a.n = std::atoll(value().c_str());
    else if (f == "--d")
      a.d = std::atoll(value().c_str());
    else if (f == "--threads")
      a.threads = std::atoi(value().c_str());
    else if (f == "--reps")
      a.reps = std::atoi(value().c_str());
    else if (f == "--pingpong")
      a.pingpong = true;
    else if (f == "--kv")
      a.kv = true;
    else if (f == "--no-poll")
      a.poll = false;
    else if (f == "--causal") {
      const std::string v = value();
      if (v != "none" && v != "top-left") usage("--causal: none or top-left");
      a.causal = v == "none" ? attn::Causal::none : attn::Causal::top_left;
    } else if (f == "--layout") {
      const std::string v = value();
      if (v != "contiguous" && v != "zigzag") usage("--layout: contiguous or zigzag");
      a.layout = v == "contiguous" ? attn::RingLayout::contiguous : attn::RingLayout::zigzag;
    } else
      usage(("unknown argument " + f).c_str());
  }
  if (a.n < 1 || a.d < 1 || a.threads < 1) usage("--n, --d, --threads must be >= 1");
  if (a.reps < (a.pingpong ? 0 : 1)) usage("--reps must be >= 1 (>= 0 with --pingpong: 0 times the link only)");
  return a;
}

/// Half the round trip of `bytes` between ranks 0 and 1, best of `reps`.
double pingpong(int rank, std::size_t bytes, int reps) {
  std::vector<char> buf(bytes);
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = MPI_Wtime();
    if (rank == 0) {
      MPI_Send(buf.data(), static_cast<int>(bytes), MPI_CHAR, 1, 0, MPI_COMM_WORLD);
      MPI_Recv(buf.data(), static_cast<int>(bytes), MPI_CHAR, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else if (rank == 1) {
      MPI_Recv(buf.data(), static_cast<int>(bytes), MPI_CHAR, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Send(buf.data(), static_cast<int>(bytes), MPI_CHAR, 0, 0, MPI_COMM_WORLD);
    }
    best = std::min(best, (MPI_Wtime() - t0) / 2);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, P = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  const Args a = parse(argc, argv);
  if (a.pingpong) {
    if (P < 2) usage("--pingpong needs 2 ranks");
    const double lat = pingpong(rank, 8, 200);
    const std::size_t big = static_cast<std::size_t>(2 * (a.n / P) * a.d * 4);  // one K+V block
    const double t = pingpong(rank, big, 10);
    if (rank == 0)
      std::printf("link: latency %.2f us (8 B), %.0f MB block in %.3f ms: %.2f GB/s\n", lat * 1e6, big / 1e6, t * 1e3,
                  big / (t - lat) / 1e9);
    if (rank == 0 && a.kv) std::printf("kv: latency_s=%.9g block_bytes=%zu block_s=%.9g\n", lat, big, t);
  }
  if (a.reps == 0) {
    MPI_Finalize();
    return 0;
  }
  const auto qr = attn::ring_rows(a.layout, a.n, P, rank);
  i64 rows = 0;
  for (const auto r : qr) rows += r.length;
  std::vector<float> q(static_cast<std::size_t>(rows * a.d)), k(q.size()), v(q.size()), out(q.size()),
      lse(static_cast<std::size_t>(rows));
  std::mt19937 gen(static_cast<unsigned>(17 + rank));
  std::uniform_real_distribution<float> u(-1, 1);
  for (auto* x : {&q, &k, &v})
    for (float& f : *x) f = u(gen);
  attn::RingOptions o;
  o.attention.causal = a.causal;
  o.attention.threads = a.threads;
  o.layout = a.layout;
  o.poll_progress = a.poll;
  attn::RingTimes t, best;
  best.total = 1e30;
  o.times = &t;
  for (int r = 0; r < a.reps; ++r) {
    MPI_Barrier(MPI_COMM_WORLD);
    attn::ring_attention(MPI_COMM_WORLD, attn::view2d(q.data(), rows, a.d), attn::view2d(k.data(), rows, a.d),
                         attn::view2d(v.data(), rows, a.d), attn::view2d(out.data(), rows, a.d),
                         attn::lse_view(lse.data(), 1, 1, rows), o);
    // The call ends when the slowest rank ends: report that rank's split.
    std::vector<double> mine{t.total, t.compute, t.exposed_communication, t.merge},
        all(4 * static_cast<std::size_t>(P));
    MPI_Gather(mine.data(), 4, MPI_DOUBLE, all.data(), 4, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    if (rank == 0) {
      int slow = 0;
      for (int p = 1; p < P; ++p)
        if (all[4 * p] > all[4 * slow]) slow = p;
      if (all[4 * slow] < best.total)
        best = {all[4 * slow + 1], all[4 * slow + 2], all[4 * slow + 3], all[4 * slow], 0, 0};
    }
  }
  if (rank == 0) {
    const double flops = 4.0 * static_cast<double>(a.n) * static_cast<double>(a.n) * static_cast<double>(a.d) *
                         (a.causal == attn::Causal::none ? 1.0 : 0.5);
    std::printf(
        "P=%d threads/rank=%d N=%lld d=%lld causal=%s layout=%s: %.3f s (compute %.3f, exposed comm %.4f, "
        "merge %.4f) %.1f GFLOP/s\n",
        P, a.threads, static_cast<long long>(a.n), static_cast<long long>(a.d), attn::to_string(a.causal),
        a.layout == attn::RingLayout::zigzag ? "zigzag" : "contiguous", best.total, best.compute,
        best.exposed_communication, best.merge, flops / best.total / 1e9);
    if (a.kv)
      std::printf("kv: total_s=%.9g compute_s=%.9g exposed_communication_s=%.9g merge_s=%.9g flops=%.17g\n", best.total,
                  best.compute, best.exposed_communication, best.merge, flops);
  }
  MPI_Finalize();
  return 0;
}
