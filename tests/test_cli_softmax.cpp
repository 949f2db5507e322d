// End to end: runs the built `attnlab softmax` and `attnlab scaling`, parses their
// tables and checks the numbers (and the exit status and message of bad input).
#include "npy.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Result {
  int status = -1;
  std::string out, err;
};

/// Runs `attnlab ARGS`, capturing stdout and stderr.
Result attnlab(const std::string& args) {
  // ctest runs the cases of this file in parallel processes: one stderr file each.
  static int calls = 0;
  const std::string err_file =
      ::testing::TempDir() + "attnlab_stderr_" + std::to_string(getpid()) + "_" + std::to_string(calls++) + ".txt";
  const std::string cmd = std::string(ATTNLAB_EXE) + " " + args + " 2>" + err_file;
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream e(err_file);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  std::remove(err_file.c_str());
  return r;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(' '), e = s.find_last_not_of(' ');
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

/// Every Markdown table row of `text` whose first cell is `key`, as cells; tables
/// are told apart by their header row's first cell.
using Rows = std::map<std::string, std::vector<std::string>>;
std::map<std::string, Rows> tables(const std::string& text) {
  std::map<std::string, Rows> all;
  std::istringstream in(text);
  std::string table;
  bool in_table = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("|", 0) != 0) {
      in_table = false;
      continue;
    }
    std::vector<std::string> cells;
    std::stringstream ss(line.substr(1));
    for (std::string c; std::getline(ss, c, '|');) cells.push_back(trim(c));
    if (!in_table) {
      table = cells.at(0);
      in_table = true;
      continue;
    }
    if (cells.at(0).rfind("---", 0) == 0) continue;
    all[table][cells.at(0)] = cells;
  }
  return all;
}

/// "[0.09, 0.24, …]" → numbers (nan and inf spelled out; stops at "…").
std::vector<double> numbers(const std::string& list) {
  std::vector<double> v;
  std::stringstream ss(list.substr(1, list.size() - 2));
  for (std::string item; std::getline(ss, item, ',');) {
    item = trim(item);
    if (item.rfind("…", 0) == 0) break;
    v.push_back(std::strtod(item.c_str(), nullptr));
  }
  return v;
}

double value(const std::string& cell) {
  return std::strtod(cell.c_str(), nullptr);
}

// Columns of the variants table.
enum { kName, kPasses, kWeights, kSum, kOverflow, kUnderflow, kRelErr, kBound, kWithin };

TEST(CliSoftmax, ThousandsTable) {
  const Result r = attnlab("softmax 1000 1001 1002");
  ASSERT_EQ(r.status, 0) << r.err;
  auto t = tables(r.out);
  ASSERT_TRUE(t.count("variant")) << r.out;
  Rows& v = t["variant"];
  ASSERT_TRUE(v.count("naive") && v.count("safe") && v.count("online") && v.count("vectorised")) << r.out;
  EXPECT_EQ(v["naive"][kWeights], "[nan, nan, nan]");
  EXPECT_EQ(v["naive"][kOverflow], "3");
  const double expect[3] = {0.0900306, 0.244728, 0.665241};
  for (const char* name : {"safe", "online", "vectorised"}) {
    const auto w = numbers(v[name][kWeights]);
    ASSERT_EQ(w.size(), 3u) << name;
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(w[i], expect[i], 2e-7) << name;
    EXPECT_EQ(v[name][kOverflow], "0") << name;
    EXPECT_EQ(v[name][kWithin], "yes") << name;
    EXPECT_LE(value(v[name][kRelErr]), value(v[name][kBound])) << name;
    EXPECT_GT(value(v[name][kBound]), 0) << name;
  }
  Rows& l = t["log-sum-exp form"];
  EXPECT_EQ(l["basic: log Σ exp(x_i)"][1], "inf");
  EXPECT_NEAR(value(l["BHH: a + log1p(Σ_{i≠k} exp(x_i − a))"][1]), 1002.40760596, 1e-4);
  EXPECT_NEAR(value(l["reference (long double)"][1]), 1002.40760596, 1e-8);
}

TEST(CliSoftmax, ShiftInvarianceOneTwoThree) {
  const Result a = attnlab("softmax 1000 1001 1002"), b = attnlab("softmax 1 2 3");
  ASSERT_EQ(a.status, 0);
  ASSERT_EQ(b.status, 0);
  EXPECT_EQ(tables(a.out)["variant"]["safe"][kWeights], tables(b.out)["variant"]["safe"][kWeights]);
  EXPECT_EQ(tables(b.out)["variant"]["naive"][kWithin], "yes");  // no overflow at 1, 2, 3
}

TEST(CliSoftmax, ExplainQuotesTheThresholdsAndTheAnswer) {
  const Result r = attnlab("softmax --explain 1000 1001 1002");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* needle :
       {"overflows to inf for x > 88.7228317", "exp(88.73) = inf",
        "subnormal (fewer significant bits) for x < -87.3365402", "is 0 for x < -103.972076",
        "exp(x) = [inf, inf, inf]", "safe weights = [0.090, 0.245, 0.665]",
        "x − c = [1, 2, 3]  →  [0.090, 0.245, 0.665]", "bit-identical", "the naive formula gives 0/0 = [nan, nan, nan]",
        "2 passes over x instead of 3", "BHH: a + log1p(Σ_{i≠k} exp(x_i − a)) = 9.35762e-14"})
    EXPECT_NE(r.out.find(needle), std::string::npos) << "missing: " << needle;
}

/// Whether `text` contains `needle`; the message shows the text around the first line of `needle` otherwise.
::testing::AssertionResult says(const std::string& text, const std::string& needle) {
  if (text.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "missing: " << needle << "\nin:\n" << text;
}
::testing::AssertionResult never_says(const std::string& text, const std::string& needle) {
  if (text.find(needle) == std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "should not say: " << needle << "\nin:\n" << text;
}

// Each case of the lesson states what its own numbers show, and nothing that they contradict.
TEST(CliSoftmax, ExplainUnderflowToZeroOverZero) {
  const Result r = attnlab("softmax --explain -- -1000 -1001");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(says(r.out, "Σ exp(x) = 0  →  naive weights [nan, nan]"));
  EXPECT_TRUE(says(r.out, "Every exp(x_i) underflows to 0 (every x_i < -103.972): Σ = 0, and 0/0 = nan."));
  EXPECT_TRUE(never_says(r.out, "survives"));
  EXPECT_TRUE(says(r.out, "so the sum lies in [1, n] = [1, 2]: no overflow, no 0/0."));
  EXPECT_TRUE(says(r.out, "safe weights = [0.731, 0.269]"));
  EXPECT_EQ(tables(r.out)["variant"]["naive"][kWithin], "no: 2 nan (0/0)");
}

TEST(CliSoftmax, ExplainOverflowAndSumOverflow) {
  const Result r = attnlab("softmax --explain 1000 1001 1002");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(says(r.out, "all 3 x_i exceed 88.7228: exp overflows to inf, Σ = inf, inf/inf = nan."));
  EXPECT_TRUE(never_says(r.out, "survives"));
  EXPECT_EQ(tables(r.out)["variant"]["naive"][kWithin], "no: 3 nan (exp overflow)");
  // No single exp overflows, their sum does: the naive weights are 0, not a survival.
  const Result s = attnlab("softmax --explain 88 88 88 88 88");
  ASSERT_EQ(s.status, 0) << s.err;
  EXPECT_TRUE(says(s.out, "No x_i exceeds 88.7228, but the sum of their exps does: Σ = inf, so the weights collapse"));
  EXPECT_TRUE(never_says(s.out, "survives"));
  // And a row that does survive says so.
  const Result ok = attnlab("softmax --explain 1 2 3");
  EXPECT_TRUE(says(ok.out, "No x_i exceeds 88.7228 and Σ is finite and positive, so the naive formula survives"));
}

TEST(CliSoftmax, ExplainNanIn) {
  const Result r = attnlab("softmax --explain nan 1");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(says(r.out, "1 of 2 x_i are nan: any sum that includes a NaN is NaN, so every weight is nan"));
  EXPECT_TRUE(says(r.out, "Here x holds nan: x_i − a is nan for it, so Σ is nan and every weight is nan."));
  EXPECT_TRUE(never_says(r.out, "the sum lies in [1, n]"));
  EXPECT_TRUE(never_says(r.out, "survives"));
  EXPECT_TRUE(says(r.out, "4–5. (Skipped"));
  Rows v = tables(r.out)["variant"];
  for (const char* name : {"naive", "safe", "online", "vectorised"}) {
    EXPECT_EQ(v[name][kWithin], "no: 2 nan (nan in x)") << name;
    EXPECT_EQ(v[name][kRelErr], "nan") << name;
  }
  EXPECT_EQ(v["reference (long double)"][kSum], "nan");
}

TEST(CliSoftmax, InfInIsNeverWithinAndTheRoundingIsReported) {
  // 1e40 is beyond fp32: stored as inf, and said so.
  const Result r = attnlab("softmax 1e40 1");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(says(r.out, "x = [inf, 1]"));
  EXPECT_TRUE(says(r.out, "value 1: 1e+40 → inf (beyond its largest finite value 3.40282e+38)"));
  Rows v = tables(r.out)["variant"];
  for (const char* name : {"safe", "online", "vectorised"}) {
    EXPECT_EQ(v[name][kWeights], "[nan, nan]") << name;
    EXPECT_EQ(v[name][kWithin], "no: 2 nan (inf in x)") << name;
    EXPECT_EQ(v[name][kBound], "n/a: x not finite") << name;
  }
  EXPECT_EQ(v["naive"][kWithin], "no: 1 nan (inf in x)");
  EXPECT_EQ(v["reference (long double)"][kSum], "nan");
  const Result e = attnlab("softmax --explain 1e40 1");
  EXPECT_TRUE(says(e.out, "1 of 2 x_i are inf: exp(inf) = inf makes Σ = inf, inf/inf = nan."));
  EXPECT_TRUE(says(e.out, "Here a = inf: x_i − a is inf − inf = nan"));
  // 70000 is beyond fp16 (65504); 1001 rounds to 1000 in bf16.
  const Result h = attnlab("softmax --precision fp16 70000 1");
  EXPECT_TRUE(says(h.out,
                   "note: fp16 stores 1 of your 2 value(s) differently:\n  value 1: 70000 → inf (beyond its "
                   "largest finite value 65504)"));
  const Result b = attnlab("softmax --precision bf16 1000 1001");
  EXPECT_TRUE(says(b.out, "value 2: 1001 → 1000 (the nearest bf16 value)"));
  EXPECT_TRUE(never_says(attnlab("softmax 1 2 3").out, "note:"));
}

TEST(CliSoftmax, FullyMaskedRowSumsToZero) {
  const Result r = attnlab("softmax -- -inf -inf");
  ASSERT_EQ(r.status, 0) << r.err;
  Rows v = tables(r.out)["variant"];
  EXPECT_EQ(v["reference (long double)"][kWeights], "[0, 0]");
  EXPECT_EQ(v["reference (long double)"][kSum], "0");  // not 1 beside weights [0, 0]
  EXPECT_EQ(v["safe"][kSum], "0");
  EXPECT_EQ(tables(r.out)["log-sum-exp form"]["shifted: a + log Σ exp(x_i − a)"][2], "0");  // −inf agrees with −inf
  const Result e = attnlab("softmax --explain -- -inf -inf");
  EXPECT_TRUE(says(e.out, "Every x_i is −inf (every key masked): Σ = 0; the library gives weights 0"));
  EXPECT_TRUE(says(e.out, "Here a = −inf"));
}

TEST(CliSoftmax, PrecisionChangesWhereExpOverflows) {
  // 700 overflows exp in fp32 (> 88.72) but not in fp64 (< 709.78).
  const Result f32 = attnlab("softmax 700 701 702"), f64 = attnlab("softmax --precision fp64 700 701 702");
  ASSERT_EQ(f32.status, 0);
  ASSERT_EQ(f64.status, 0);
  EXPECT_EQ(tables(f32.out)["variant"]["naive"][kOverflow], "3");
  EXPECT_EQ(tables(f64.out)["variant"]["naive"][kOverflow], "0");
  EXPECT_EQ(tables(f64.out)["variant"]["naive"][kWithin], "yes");
  // fp16: exp(12) = 162755 > 65504 overflows, exp(10) = 22026 does not.
  const Result h = attnlab("softmax --precision fp16 8 10 12");
  ASSERT_EQ(h.status, 0) << h.err;
  Rows v = tables(h.out)["variant"];
  EXPECT_EQ(v["naive (simulated)"][kOverflow], "1");
  EXPECT_EQ(v["naive (simulated)"][kWeights], "[0, 0, nan]");
  EXPECT_EQ(v["safe (simulated)"][kWithin], "yes");
  // bf16 keeps 8 significant bits: 1001 and 1002 (a tie) both round to 1000.
  const Result b = attnlab("softmax --precision bf16 1000 1001 1002");
  ASSERT_EQ(b.status, 0);
  EXPECT_NE(b.out.find("x = [1000, 1000, 1000]"), std::string::npos) << b.out;
  const auto w = numbers(tables(b.out)["variant"]["safe (simulated)"][kWeights]);
  ASSERT_EQ(w.size(), 3u);
  for (double x : w) EXPECT_NEAR(x, 1.0 / 3, 2e-3);
}

TEST(CliSoftmax, RandomRowWithinEveryBound) {
  const Result r = attnlab("softmax --random 5000 --scale 30 --seed 3");
  ASSERT_EQ(r.status, 0) << r.err;
  Rows v = tables(r.out)["variant"];
  for (const char* name : {"safe", "online", "vectorised"}) {
    ASSERT_TRUE(v.count(name));
    EXPECT_EQ(v[name][kWithin], "yes") << name;
    EXPECT_LE(value(v[name][kRelErr]), value(v[name][kBound])) << name;
    EXPECT_NEAR(value(v[name][kSum]), 1.0, 1e-3) << name;
  }
  EXPECT_NE(v["naive"][kOverflow], "0");  // N(0, 30²) over 5000 values exceeds 88.72 somewhere
}

TEST(CliSoftmax, RowFromANpyFile) {
  const std::string row = ::testing::TempDir() + "softmax_row_" + std::to_string(getpid()) + ".npy";
  const std::string matrix = ::testing::TempDir() + "softmax_matrix_" + std::to_string(getpid()) + ".npy";
  const float x[3] = {1000, 1001, 1002}, m[6] = {};
  const std::int64_t row_shape[2] = {1, 3}, matrix_shape[2] = {2, 3};
  attnlab::npy::write(row, x, row_shape);  // a [1, 3] array is one row
  attnlab::npy::write(matrix, m, matrix_shape);
  const Result f = attnlab("softmax --file " + row), v = attnlab("softmax 1000 1001 1002");
  ASSERT_EQ(f.status, 0) << f.err;
  EXPECT_EQ(tables(f.out)["variant"]["safe"][kWeights], tables(v.out)["variant"]["safe"][kWeights]);
  const Result bad = attnlab("softmax --file " + matrix);
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("expected one row"), std::string::npos) << bad.err;
  const Result both = attnlab("softmax --file " + row + " 1 2");
  EXPECT_EQ(both.status, 2);
  EXPECT_NE(both.err.find("give one input"), std::string::npos) << both.err;
  std::remove(row.c_str());
  std::remove(matrix.c_str());
}

TEST(CliSoftmax, BadArgumentsExitTwoWithAMessage) {
  struct Bad {
    const char* args;
    const char* message;
  };
  for (const Bad& b : {Bad{"softmax 1 abc", "value 2 ('abc') is not a number"}, Bad{"softmax", "no input"},
                       Bad{"softmax --precision fp8 1", "unknown precision 'fp8'"},
                       Bad{"softmax --random 5 1 2", "give one input"}, Bad{"softmax --random 5 --scale -1", "--scale"},
                       Bad{"softmax --random 0", "--random: expected a number of values >= 1, got 0"},
                       Bad{"softmax --bogus 1", "bogus"}, Bad{"scaling --dims 4,0", "--dims: '0' is not a dimension"},
                       Bad{"scaling --keys 1", "--keys"},
                       Bad{"scaling --out /nonexistent-dir/x.svg", "--out: the directory '/nonexistent-dir' does not exist"},
        Bad{"scaling --seed -1", "--seed: expected a whole number >= 0, got '-1'"}}) {
    const Result r = attnlab(b.args);
    EXPECT_EQ(r.status, 2) << b.args;
    EXPECT_NE(r.err.find(b.message), std::string::npos) << b.args << ": " << r.err;
  }
}

TEST(CliScaling, RawDotProductsGrowAsSqrtDAndScalingKeepsRowsSoft) {
  const std::string svg = ::testing::TempDir() + "attnlab_scaling_" + std::to_string(getpid()) + ".svg";
  const Result r = attnlab("scaling --dims 4,64,1024 --queries 32 --keys 128 --out " + svg);
  ASSERT_EQ(r.status, 0) << r.err;
  Rows t = tables(r.out)["d"];
  ASSERT_EQ(t.size(), 3u) << r.out;
  double prev_top = 0;
  for (const char* d : {"4", "64", "1024"}) {
    const auto& row = t[d];
    const double sd = std::sqrt(value(d));
    EXPECT_NEAR(value(row[2]), sd, 0.1 * sd) << d;          // std(q·k) ≈ √d
    EXPECT_GT(value(row[4]), 0.85 * std::log(128.0)) << d;  // scaled: entropy stays near log n
    EXPECT_LT(value(row[6]), 0.15) << d;                    // scaled: no weight dominates
    EXPECT_GT(value(row[5]), prev_top) << d;                // unscaled: sharper as d grows
    prev_top = value(row[5]);
  }
  EXPECT_GT(value(t["1024"][5]), 0.8);  // near one-hot without the scale
  std::ifstream f(svg);
  const std::string content((std::istreambuf_iterator<char>(f)), {});
  EXPECT_EQ(content.rfind("<svg", 0), 0u);
  std::size_t lines = 0;
  for (std::size_t p = 0; (p = content.find("<polyline", p)) != std::string::npos; ++p) ++lines;
  EXPECT_EQ(lines, 4u);
  EXPECT_NE(content.find("</svg>"), std::string::npos);
  std::remove(svg.c_str());
}

}  // namespace
