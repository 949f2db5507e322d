// What a result file must say about where it was measured: CPU model and
// flags, the ISA of the peak loop and the measured peaks, thread counts,
// OpenBLAS version and threading, build type, and warnings (not a Release
// build, frequency scaling on) that make the numbers suspect.
#pragma once

#include <string>
#include <vector>

namespace attnbench {

/// Adds everything to Google Benchmark's JSON "context" (AddCustomContext) and
/// prints each warning to stderr. Measures the peak table if not yet done.
void add_context();

/// The warnings add_context() reports (empty when the setup looks sound).
std::vector<std::string> setup_warnings();

}  // namespace attnbench
