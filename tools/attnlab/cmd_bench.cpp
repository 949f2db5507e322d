// attnlab bench: runs the Google Benchmark suites (build/bench/attn_bench*)
// with a profile (quick by default, --full, --smoke for CI), progress on
// stderr, and merges their JSON into one results/<date>-<host>.json that
// tools/plot_bench.py and Google Benchmark's compare.py both read.
#include "commands.hpp"
#include "files.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

#ifndef ATTNLAB_BENCH_DIR
#define ATTNLAB_BENCH_DIR ""
#endif

namespace attnlab {

namespace {

namespace fs = std::filesystem;

struct BenchOptions {
  bool full = false, smoke = false;
  std::string suites;  // empty: every suite found
  std::string bench_dir = ATTNLAB_BENCH_DIR;
  std::string out;
  std::string filter;
  int repetitions = 0;  // 0: the profile's default
};

struct Suite {
  std::string name;  // "peak", "attention", ...
  fs::path exe;
};

/// attn_bench → attention, attn_bench_<x> → x.
std::string suite_name(const std::string& file) {
  return file == "attn_bench" ? "attention" : file.substr(std::string("attn_bench_").size());
}

std::vector<Suite> find_suites(const std::string& dir) {
  if (dir.empty() || !fs::is_directory(dir))
    throw std::invalid_argument("--bench-dir: '" + dir + "' is not a directory holding the attn_bench* executables");
  std::vector<Suite> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string f = e.path().filename().string();
    if ((f == "attn_bench" || f.rfind("attn_bench_", 0) == 0) && e.is_regular_file() &&
        ::access(e.path().c_str(), X_OK) == 0)
      out.push_back({suite_name(f), e.path()});
  }
  // The peak first (the machine's limits open the report), the rest by name.
  std::sort(out.begin(), out.end(), [](const Suite& a, const Suite& b) {
    return std::make_pair(a.name != "peak", a.name) < std::make_pair(b.name != "peak", b.name);
  });
  if (out.empty()) throw std::invalid_argument("--bench-dir: no attn_bench* executables in '" + dir + "'");
  return out;
}

std::vector<Suite> choose(const std::vector<Suite>& all, const std::string& list) {
  if (list.empty()) return all;
  std::vector<Suite> out;
  std::stringstream ss(list);
  for (std::string name; std::getline(ss, name, ',');) {
    if (name.empty()) continue;
    auto it = std::find_if(all.begin(), all.end(), [&](const Suite& s) { return s.name == name; });
    if (it == all.end()) {
      std::string names;
      for (const Suite& s : all) names += (names.empty() ? "" : ", ") + s.name;
      throw std::invalid_argument("--suites: no suite '" + name + "' (found: " + names + ")");
    }
    out.push_back(*it);
  }
  if (out.empty()) throw std::invalid_argument("--suites: the list is empty");
  return out;
}

/// Runs `argv` with our environment plus `extra` ("NAME=value", replacing ours), its stdout sent
/// to our stderr; returns the exit status.
int run_suite(const std::vector<std::string>& argv, const std::vector<std::string>& extra) {
  std::vector<std::string> env_store = extra;
  for (char** e = environ; *e; ++e) {
    const std::string var(*e);
    const bool replaced = std::any_of(extra.begin(), extra.end(), [&](const std::string& x) {
      return var.compare(0, x.find('=') + 1, x, 0, x.find('=') + 1) == 0;
    });
    if (!replaced) env_store.push_back(var);
  }
  std::vector<char*> env, args;
  for (auto& s : env_store) env.push_back(s.data());
  env.push_back(nullptr);
  std::vector<std::string> argv_store = argv;
  for (auto& s : argv_store) args.push_back(s.data());
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error(argv[0] + ": cannot start: " + std::strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::runtime_error(argv[0] + ": waitpid failed");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error(p.string() + ": cannot read the suite's results");
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

/// The parts of a Google Benchmark JSON file: everything before the benchmark
/// list (the context) and the list's items. The layout is the library's own.
struct Parts {
  std::string head, items;
};
Parts split(const std::string& json, const std::string& what) {
  const std::string open = "\"benchmarks\": [";
  const auto b = json.find(open);
  const auto e = json.rfind(']');
  if (json.empty() || json[0] != '{' || b == std::string::npos || e == std::string::npos || e < b)
    throw std::runtime_error(what + ": not a Google Benchmark JSON file");
  std::string items = json.substr(b + open.size(), e - b - open.size());
  const auto first = items.find_first_not_of(" \n\t"), last = items.find_last_not_of(" \n\t");
  items = first == std::string::npos ? "" : items.substr(first, last - first + 1);
  return {json.substr(0, b + open.size()), items};
}

/// The string value of `"key": "value"` in a Google Benchmark context, or "".
std::string context_value(const std::string& head, const std::string& key) {
  const std::string k = "\"" + key + "\": \"";
  const auto b = head.find(k);
  if (b == std::string::npos) return "";
  const auto e = head.find('"', b + k.size());
  return e == std::string::npos ? "" : head.substr(b + k.size(), e - b - k.size());
}

std::string default_output() {
  char host[256] = "host";
  gethostname(host, sizeof host - 1);
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H%M%SZ", std::gmtime(&now));
  return "results/" + std::string(stamp) + "-" + host + ".json";
}

void run_bench(const BenchOptions& o) {
  if (o.full && o.smoke) throw std::invalid_argument("--full and --smoke: choose one profile");
  if (o.repetitions < 0)
    throw std::invalid_argument("--repetitions: must be >= 0, got " + std::to_string(o.repetitions));
  const std::string profile = o.full ? "full" : o.smoke ? "smoke" : "quick";
  const std::vector<Suite> suites = choose(find_suites(o.bench_dir), o.suites);
  const std::string out = o.out.empty() ? default_output() : o.out;
  const fs::path out_dir = fs::path(out).has_parent_path() ? fs::path(out).parent_path() : fs::path(".");
  // The result's place, checked before minutes of benchmarking (the directory is created if missing).
  const std::string option = o.out.empty() ? "--out (default " + out + ")" : "--out";
  check_output_directory(option, out_dir.string());
  ensure_directory(out_dir.string());
  check_output_file(option, out, "result.json");

  std::string merged_head, merged_items, names, failed;
  // The first suite to report a peak (the peak suite runs first) hands it to the others:
  // one denominator for every %peak in the file.
  std::vector<std::string> env{"ATTN_BENCH_PROFILE=" + profile};
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < suites.size(); ++i) {
    const Suite& s = suites[i];
    std::cerr << "bench: [" << i + 1 << "/" << suites.size() << "] " << s.name << " (" << profile << " profile)\n";
    const fs::path part = out_dir / ("." + fs::path(out).filename().string() + "." + s.name + ".part");
    std::vector<std::string> argv{s.exe.string(), "--benchmark_out=" + part.string(), "--benchmark_out_format=json"};
    if (!o.filter.empty()) argv.push_back("--benchmark_filter=" + o.filter);
    // Suites without the kit's profiles (softmax, microkernels) would run at Google Benchmark's
    // 0.5 s per benchmark: hold them to the profile's minimum time too.
    if (profile != "full")
      argv.push_back(profile == "smoke" ? "--benchmark_min_time=0.001" : "--benchmark_min_time=0.05");
    if (o.repetitions > 0) argv.push_back("--benchmark_repetitions=" + std::to_string(o.repetitions));
    const int rc = run_suite(argv, env);
    if (rc != 0) failed += (failed.empty() ? "" : ", ") + s.name + " (exit " + std::to_string(rc) + ")";
    if (!fs::exists(part)) continue;
    const Parts p = split(read_file(part), s.exe.string() + " output " + part.string());
    fs::remove(part);
    if (merged_head.empty()) merged_head = p.head;
    if (const std::string peak = context_value(p.head, "fma_peak_gflops_by_threads");
        !peak.empty() && env.size() == 1) {
      env.push_back("ATTN_BENCH_FMA_PEAK=" + peak);
      env.push_back("ATTN_BENCH_FMA_PEAK_ISA=" + context_value(p.head, "fma_peak_isa"));
    }
    if (!p.items.empty()) merged_items += (merged_items.empty() ? "" : ",\n    ") + p.items;
    names += (names.empty() ? "" : ",") + s.name;
  }
  if (merged_head.empty())
    throw std::runtime_error("no suite produced results" + (failed.empty() ? "" : ": " + failed));
  // Record which suites the merged file holds, inside the first suite's context.
  const std::string ctx = "\"context\": {";
  if (const auto c = merged_head.find(ctx); c != std::string::npos)
    merged_head.insert(c + ctx.size(), "\n    \"attnlab_suites\": \"" + names + "\",");
  write_file_atomic(out, merged_head + "\n    " + merged_items + "\n  ]\n}\n");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cerr << "bench: " << suites.size() << " suite(s) in " << static_cast<int>(secs) << " s\n";
  std::cerr << "bench: roofline report: attnlab bench report " << out << "\n";
  std::cerr << "bench: charts and a table: /usr/bin/python3 tools/plot_bench.py " << out << " --out <dir>\n";
  std::cout << out << "\n";
  if (!failed.empty()) throw std::runtime_error("suites reported errors: " + failed + " (see the log above)");
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto opts = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Run the benchmark suites (peak, attention + scaling, decode, ...) and write one JSON result file");
  cmd->footer(
      "Profiles: quick (default; 6 minutes on a shared 2-core machine), --full (every shape and N up to 131072; "
      "an hour or more), --smoke (tiny shapes, one iteration: checks that the suites run; half a minute). "
      "The times: docs/benchmarking.md.\n"
      "Roofline report of a result (GFLOP/s, share of peak, thread scaling): attnlab bench report RESULT.json. "
      "Charts and a table: /usr/bin/python3 tools/plot_bench.py RESULT.json --out DIR. A/B of two builds: "
      "docs/benchmarking.md.");
  cmd->add_flag("--full", opts->full, "Run the full profile");
  cmd->add_flag("--smoke", opts->smoke, "Run the smoke profile (CI)");
  cmd->add_option("--suites", opts->suites,
                  "Comma-separated suites (default: every attn_bench* found), e.g. peak,attention");
  cmd->add_option("--bench-dir", opts->bench_dir, "Directory of the attn_bench* executables")->capture_default_str();
  cmd->add_option("--out", opts->out, "Result file (default: results/<UTC date and time>-<host>.json)");
  cmd->add_option("--filter", opts->filter, "Only benchmarks matching this regular expression (--benchmark_filter)");
  cmd->add_option("--repetitions", opts->repetitions,
                  "Repetitions per benchmark, medians reported (0: the profile's, 3 quick / 5 full)")
      ->capture_default_str();
  add_bench_report_command(*cmd);
  // `attnlab bench report RESULT` reads a result instead of running the suites.
  cmd->callback([opts, cmd] {
    if (cmd->get_subcommands().empty()) run_bench(*opts);
  });
}

}  // namespace attnlab
