// The roofline report of a benchmark result (`attnlab bench report`): per kernel and shape,
// GFLOP/s and its share of the FMA peak measured in the same run at 1 thread and at the
// result's largest thread count, the scaling between the two, and which roof bounds the
// shape (compute: the FMA peak; memory: arithmetic intensity × the STREAM triad bandwidth
// of the peak suite). docs/design.md §5 defines the counts; docs/performance.md shows a report.
#pragma once

#include "json_value.hpp"

#include <iosfwd>
#include <map>
#include <string>
#include <vector>

namespace attnlab {

/// One kernel on one shape: its counters by thread count (medians where repetitions ran).
struct RooflineCase {
  std::string family, kernel, shape;  // "attention", "fused", "llm-1024"
  double flops = 0, bytes = 0;        // per call: FLOPs (§5) and compulsory bytes (Q, K, V, O once)
  std::map<int, double> gflops;       // by thread count
  std::string refused;                // non-empty: the benchmark's refusal, and no counters
  double intensity() const { return bytes > 0 ? flops / bytes : 0; }
};

struct Roofline {
  std::string machine;                // CPU brand, the ISA dispatched to, the profile
  std::string peak_isa;               // the FMA loop the peak was measured with
  std::map<int, double> peak_gflops;  // FMA peak by thread count, from the result's context
  std::map<int, double> triad_gbs;    // STREAM triad by thread count (empty without the peak suite)
  std::string warnings;
  std::vector<RooflineCase> cases;  // in the result's order
};

/// Reads the attention and scaling benchmarks of a result `attnlab bench` wrote. Throws
/// std::invalid_argument naming `what` when it is no benchmark result or holds none of them.
Roofline read_roofline(const JsonValue& result, const std::string& what);

/// Prints the report of the cases whose kernel is in `kernels` (all when empty); throws
/// std::invalid_argument naming a kernel the result does not hold.
void print_roofline(const Roofline& r, const std::vector<std::string>& kernels, std::ostream& os);

}  // namespace attnlab
