#include "suite_main.hpp"

#include "context.hpp"
#include "memory_probe.hpp"
#include "peak.hpp"
#include "profile.hpp"

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace attnbench {

namespace {

std::vector<Registrar>& registrars() {
  static std::vector<Registrar> r;
  return r;
}

/// Wraps the display reporter chosen by --benchmark_format and counts broken runs.
template <class Base>
class CountingReporter : public Base {
 public:
  using Base::Base;
  void ReportRuns(const std::vector<benchmark::BenchmarkReporter::Run>& runs) override {
    for (const auto& r : runs)
      if (r.error_occurred && r.error_message.rfind(kRefused, 0) != 0) {
        ++failures;
        failed.push_back(r.benchmark_name() + ": " + r.error_message);
      }
    Base::ReportRuns(runs);
  }
  int failures = 0;
  std::vector<std::string> failed;
};

template <class Base, class... Args>
int run_with(Args... args) {
  CountingReporter<Base> reporter(args...);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  for (const std::string& f : reporter.failed) std::cerr << "FAILED " << f << "\n";
  return reporter.failures ? 1 : 0;
}

}  // namespace

bool add_suite(Registrar fn) {
  registrars().push_back(fn);
  return true;
}

int suite_main(int argc, char** argv) {
  // Our flags first; the rest is Google Benchmark's.
  std::vector<char*> args{argv[0]};
  std::string format = "console";
  bool has_reps = false, has_min_time = false;
  try {
    for (int i = 1; i < argc; ++i) {
      const char* a = argv[i];
      if (std::strncmp(a, "--profile=", 10) == 0) {
        set_profile(parse_profile(a + 10));
        continue;
      }
      if (std::strcmp(a, "--help") == 0 || std::strcmp(a, "-h") == 0)
        std::cout << "attnlab suite options (before Google Benchmark's):\n"
                     "  --profile=smoke|quick|full   shapes, thread counts and repetitions (default quick,\n"
                     "                               or $ATTN_BENCH_PROFILE); see docs/benchmarking.md\n\n";
      if (std::strncmp(a, "--benchmark_format=", 19) == 0) format = a + 19;
      if (std::strncmp(a, "--benchmark_repetitions=", 24) == 0) has_reps = true;
      if (std::strncmp(a, "--benchmark_min_time=", 21) == 0) has_min_time = true;
      args.push_back(argv[i]);
    }
    (void)profile();     // ATTN_BENCH_PROFILE errors surface here
    (void)peak_table();  // and ATTN_BENCH_FMA_PEAK ones (else: the peak is measured now, once)
  } catch (const std::invalid_argument& e) {
    std::cerr << argv[0] << ": error: " << e.what() << "\n";
    return 2;
  }
  // The profile's defaults, unless given explicitly: medians of repetitions.
  std::string reps = "--benchmark_repetitions=", min_time = "--benchmark_min_time=";
  const Profile p = profile();
  reps += p == Profile::full ? "5" : p == Profile::quick ? "3" : "1";
  min_time += p == Profile::full ? "0.3" : "0.05";
  if (!has_reps) args.push_back(reps.data());
  if (!has_min_time) args.push_back(min_time.data());
  int n = static_cast<int>(args.size());
  args.push_back(nullptr);

  pin_malloc_to_mmap();
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 2;
  add_context();
  for (Registrar r : registrars()) r();
  if (format == "json") return run_with<benchmark::JSONReporter>();
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // still what --benchmark_format=csv asks for
  if (format == "csv") return run_with<benchmark::CSVReporter>();
#pragma GCC diagnostic pop
  return run_with<benchmark::ConsoleReporter>(isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_ColorTabular
                                                                    : benchmark::ConsoleReporter::OO_Tabular);
}

}  // namespace attnbench
