// attnlab bench report: the roofline report of a result file `attnlab bench` wrote (roofline.hpp):
// per kernel and shape, GFLOP/s and the share of the FMA peak measured in the same run, at 1
// thread and at the largest thread count, their ratio, and the roof that bounds the shape.
// It reads the file only: nothing is run, so a result from another machine reads the same.
#include "commands.hpp"
#include "json_value.hpp"
#include "roofline.hpp"

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace attnlab {

namespace {

struct ReportOptions {
  std::string result;
  std::string kernels;  // empty: every kernel in the result
};

std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  for (std::string x; std::getline(ss, x, ',');)
    if (!x.empty()) out.push_back(x);
  return out;
}

void run_report(const ReportOptions& o, const CLI::App& bench) {
  // The run's options mean nothing to a report: refuse them rather than ignore them.
  for (const CLI::Option* opt : bench.get_options())
    if (opt->count() > 0 && opt->get_name() != "--help")
      throw std::invalid_argument(opt->get_name() +
                                  ": an option of the benchmark run; `bench report` only reads "
                                  "RESULT (attnlab bench report --help)");
  std::ifstream f(o.result, std::ios::binary);
  if (!f) throw std::invalid_argument("RESULT: cannot read '" + o.result + "'");
  std::ostringstream s;
  s << f.rdbuf();
  const Roofline r = read_roofline(parse_json(s.str(), o.result), o.result);
  print_roofline(r, split_list(o.kernels), std::cout);
}

}  // namespace

void add_bench_report_command(CLI::App& bench) {
  auto opts = std::make_shared<ReportOptions>();
  CLI::App* cmd = bench.add_subcommand(
      "report", "Roofline report of a result file: GFLOP/s, share of the measured FMA peak, thread scaling");
  cmd->footer(
      "Reads a result of `attnlab bench` (the peak and attention suites; the peak suite's STREAM triad gives the "
      "memory roof). Per kernel and shape: arithmetic intensity (FLOPs per compulsory byte of Q, K, V and O), "
      "GFLOP/s and its share of the FMA peak the same run measured, at 1 thread and at the largest thread count, "
      "their ratio, and the roof that bounds the shape at 1 thread. Medians where repetitions ran. The chart: "
      "/usr/bin/python3 tools/plot_bench.py RESULT.json --out DIR (roofline.svg). docs/performance.md.");
  cmd->add_option("RESULT", opts->result, "Result file written by attnlab bench")->required();
  cmd->add_option("--kernels", opts->kernels, "Comma-separated kernels to report (default: every kernel in RESULT)");
  const CLI::App* parent = &bench;
  cmd->callback([opts, parent] { run_report(*opts, *parent); });
}

}  // namespace attnlab
