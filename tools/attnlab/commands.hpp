// Each command lives in its own cmd_<name>.cpp and registers itself on the app.
#pragma once

#include <CLI/CLI.hpp>

namespace attnlab {

void add_compare_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_softmax_command(CLI::App& app);
void add_scaling_command(CLI::App& app);
void add_lab_command(CLI::App& app);
void add_bench_command(CLI::App& app);
/// `attnlab bench report` (cmd_bench_report.cpp), a subcommand of `bench`.
void add_bench_report_command(CLI::App& bench);

/// Exit status for bad arguments or input files; 1 is kept for internal errors.
inline constexpr int kExitUsage = 2;

}  // namespace attnlab
