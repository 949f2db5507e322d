// attn_bench_ring (`attnlab bench --suites ring`): ring attention under mpirun.
//
// Every repetition of a benchmark starts one MPI job, `mpirun -np P attn_ring_scaling --kv`
// (bench/ring_scaling.cpp, the worker next to this binary), which times ring_attention on
// seeded inputs (best of 2 calls: the first also pays for page faults and connection set-up)
// and reports the slowest rank's split; that rank's time is this benchmark's manual time.
// One MPI job per repetition because P is the job's size: MPI cannot grow or shrink a job,
// and idle ranks waiting in a larger job would poll the very cores being measured.
//
//   ring/strong/N:<n>/d:128/P:<p>/threads:1    fixed N, P = 1, 2, 4 ranks of one thread
//   ring/weak/N:<n0·p>/d:128/P:<p>/threads:1   N ∝ P (the work, ∝ N², grows ∝ P per rank)
//   ring/one_process/N:<n>/d:128/P:1/threads:T one process with every CPU's thread: what P
//                                              ranks of one thread are compared with
//   ring/link/bytes:<b>/P:2/threads:1          ping-pong between two ranks (the cost model's α, β)
// Counters: compute_s, exposed_communication_s, merge_s (the slowest rank's, seconds), GFLOP/s,
// ranks, threads (per rank), N, d; link: latency_s, GB/s. Ranks are not bound to cores
// (--bind-to none): Open MPI binds jobs of 1 or 2 ranks to one core each by default, which
// would hold the one-process run's threads to one core.
#include "kit/peak.hpp"
#include "kit/profile.hpp"
#include "kit/suite_main.hpp"

#include <benchmark/benchmark.h>

#include <sys/wait.h>
#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#ifndef ATTN_MPIEXEC
#define ATTN_MPIEXEC "mpirun"
#endif

namespace {

using attnbench::Profile;
using i64 = std::int64_t;

constexpr i64 kHeadDim = 128;

/// The worker binary: next to this one (both are built into build/bench/).
std::string worker_path() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (ec ? std::filesystem::path("attn_ring_scaling") : self.parent_path() / "attn_ring_scaling").string();
}

std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

/// Runs one MPI job of `ranks` ranks of the worker with `args`; the worker's "kv:" lines as a
/// map. On failure: false and `error` says what happened (the worker's stderr went to ours).
bool run_worker(int ranks, const std::string& args, std::map<std::string, double>& kv, std::string& error) {
  const std::string cmd = std::string(ATTN_MPIEXEC) +
                          " --allow-run-as-root --oversubscribe --bind-to none --mca btl self,vader -np " +
                          std::to_string(ranks) + " " + quoted(worker_path()) + " --kv " + args;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) {
    error = "cannot start " + cmd;
    return false;
  }
  std::array<char, 512> line{};
  while (std::fgets(line.data(), static_cast<int>(line.size()), p)) {
    std::istringstream in(line.data());
    std::string word;
    if (!(in >> word) || word != "kv:") continue;
    while (in >> word)
      if (const auto eq = word.find('='); eq != std::string::npos)
        kv[word.substr(0, eq)] = std::stod(word.substr(eq + 1));
  }
  const int status = pclose(p);
  if (status != 0 || kv.empty()) {
    error = cmd + ": " +
            (WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status)) : std::string("killed")) +
            (kv.empty() ? ", no kv: line" : "");
    return false;
  }
  return true;
}

void ring_case(benchmark::State& state, i64 n, int ranks, int threads) {
  std::map<std::string, double> kv;
  for (auto _ : state) {
    std::string error;
    kv.clear();
    if (!run_worker(ranks,
                    "--n " + std::to_string(n) + " --d " + std::to_string(kHeadDim) + " --threads " +
                        std::to_string(threads) + " --reps 2",
                    kv, error)) {
      state.SkipWithError(error.c_str());
      return;
    }
    state.SetIterationTime(kv["total_s"]);
  }
  state.counters["compute_s"] = kv["compute_s"];
  state.counters["exposed_communication_s"] = kv["exposed_communication_s"];
  state.counters["merge_s"] = kv["merge_s"];
  state.counters["GFLOP/s"] = kv["flops"] / kv["total_s"] * 1e-9;
  state.counters["ranks"] = ranks;
  state.counters["threads"] = threads;
  state.counters["N"] = static_cast<double>(n);
  state.counters["d"] = static_cast<double>(kHeadDim);
  const int cpus = attnbench::max_threads();
  if (ranks * threads > cpus)
    state.SetLabel(std::to_string(ranks * threads) + " threads on " + std::to_string(cpus) + " CPUs (oversubscribed)");
}

void link_case(benchmark::State& state, i64 n) {
  std::map<std::string, double> kv;
  for (auto _ : state) {
    std::string error;
    kv.clear();
    if (!run_worker(2, "--pingpong --n " + std::to_string(n) + " --d " + std::to_string(kHeadDim) + " --reps 0", kv,
                    error)) {
      state.SkipWithError(error.c_str());
      return;
    }
    state.SetIterationTime(kv["block_s"]);
  }
  state.counters["latency_s"] = kv["latency_s"];
  state.counters["block_bytes"] = kv["block_bytes"];
  state.counters["GB/s"] = kv["block_bytes"] / (kv["block_s"] - kv["latency_s"]) * 1e-9;
}

/// N of the strong series and of the weak series' one rank, by profile.
std::pair<i64, i64> lengths() {
  switch (attnbench::profile()) {
    case Profile::smoke:
      return {256, 128};
    case Profile::quick:
      return {4096, 2048};
    case Profile::full:
      break;
  }
  return {16384, 8192};
}

benchmark::internal::Benchmark* timed(benchmark::internal::Benchmark* b) {
  return attnbench::apply_profile(b->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond));
}

void register_ring() {
  const auto [strong_n, weak_n] = lengths();
  const std::string d = "/d:" + std::to_string(kHeadDim);
  const auto name = [&](const char* series, i64 n, int p, int t) {
    return std::string("ring/") + series + "/N:" + std::to_string(n) + d + "/P:" + std::to_string(p) +
           "/threads:" + std::to_string(t);
  };
  for (int p : {1, 2, 4})
    timed(benchmark::RegisterBenchmark(name("strong", strong_n, p, 1).c_str(),
                                       [=](benchmark::State& s) { ring_case(s, strong_n, p, 1); }));
  const int cpus = attnbench::max_threads();
  if (cpus > 1)
    timed(benchmark::RegisterBenchmark(name("one_process", strong_n, 1, cpus).c_str(),
                                       [=](benchmark::State& s) { ring_case(s, strong_n, 1, cpus); }));
  for (int p : {1, 2, 4})
    timed(benchmark::RegisterBenchmark(name("weak", weak_n * p, p, 1).c_str(),
                                       [=](benchmark::State& s) { ring_case(s, weak_n * p, p, 1); }));
  // One rank's K + V block of the strong series at P = 2 (what the ring sends each step).
  const i64 block_n = strong_n;
  timed(benchmark::RegisterBenchmark(
      ("ring/link/bytes:" + std::to_string(4 * block_n * kHeadDim) + "/P:2/threads:1").c_str(),
      [=](benchmark::State& s) { link_case(s, block_n); }));
}

const bool registered = attnbench::add_suite(register_ring);

}  // namespace

ATTNBENCH_MAIN()
