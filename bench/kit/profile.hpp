// How much a benchmark binary runs: smoke (CI: tiny shapes, one iteration),
// quick (the default, a couple of minutes for all suites) or full.
//
// Chosen by --profile=smoke|quick|full on the command line (taken out before
// Google Benchmark parses the rest) or by the ATTN_BENCH_PROFILE environment
// variable; suites that do not use this kit simply ignore the variable.
#pragma once

#include <benchmark/benchmark.h>

#include <string_view>
#include <vector>

namespace attnbench {

enum class Profile { smoke, quick, full };

Profile profile();
std::string_view profile_name(Profile p);
/// Parses "smoke", "quick" or "full"; throws std::invalid_argument naming the text otherwise.
Profile parse_profile(std::string_view text);
void set_profile(Profile p);

/// Thread counts to benchmark: smoke {1, 2}, quick {1, max}, full 1, 2, 4, ... and max.
std::vector<int> thread_counts();

/// Applies the profile's per-benchmark settings (smoke: exactly one iteration, one repetition).
benchmark::internal::Benchmark* apply_profile(benchmark::internal::Benchmark* b);

}  // namespace attnbench
