#include "roofline.hpp"

#include "table.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <ostream>
#include <sstream>
#include <stdexcept>

namespace attnlab {

namespace {

/// A Google Benchmark run name, split: 'attention/fused/llm-1024/threads:2/process_time/real_time'
/// → family "attention", kernel "fused", shape "llm-1024", threads 2 (the suffixes the library
/// appends for its own settings are dropped).
struct RunName {
  std::string family, kernel, shape;
  int threads = 1;
};

RunName split_run_name(const std::string& name, const std::string& what) {
  std::vector<std::string> parts;
  std::stringstream ss(name);
  for (std::string p; std::getline(ss, p, '/');) {
    const bool setting = p == "process_time" || p == "real_time" || p == "manual_time" ||
                         p.rfind("iterations:", 0) == 0 || p.rfind("repeats:", 0) == 0 || p.rfind("min_time:", 0) == 0;
    if (!setting) parts.push_back(p);
  }
  RunName r;
  if (!parts.empty() && parts.back().rfind("threads:", 0) == 0) {
    const std::string& t = parts.back();
    const auto [end, ec] = std::from_chars(t.data() + 8, t.data() + t.size(), r.threads);
    if (ec != std::errc{} || end != t.data() + t.size() || r.threads < 1)
      throw std::invalid_argument(what + ": benchmark '" + name + "': '" + t + "' is not a thread count");
    parts.pop_back();
  }
  if (!parts.empty()) r.family = parts[0];
  if (parts.size() > 1) r.kernel = parts[1];
  for (std::size_t i = 2; i < parts.size(); ++i) r.shape += (i > 2 ? "/" : "") + parts[i];
  return r;
}

std::string text(const JsonValue& v, std::string_view key) {
  const JsonValue* x = v.find(key);
  return x && x->string() ? *x->string() : "";
}

double number(const JsonValue& v, std::string_view key) {
  const JsonValue* x = v.find(key);
  return x && x->number() ? *x->number() : std::nan("");
}

/// "1:173.5,2:337.2" (the context's peak table) → {1: 173.5, 2: 337.2}.
std::map<int, double> by_threads(const std::string& list, const std::string& what) {
  std::map<int, double> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');) {
    const auto colon = item.find(':');
    char* end = nullptr;
    const long t = std::strtol(item.c_str(), &end, 10);
    const double g = colon == std::string::npos ? 0 : std::strtod(item.c_str() + colon + 1, nullptr);
    if (colon == std::string::npos || end != item.c_str() + colon || t < 1 || !(g > 0))
      throw std::invalid_argument(what + ": context.fma_peak_gflops_by_threads: '" + list +
                                  "' is not a list of threads:GFLOP/s");
    out[static_cast<int>(t)] = g;
  }
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

/// "1 thread 173.5 GFLOP/s, 2 threads 337.2 GFLOP/s".
std::string per_thread(const std::map<int, double>& m, int digits, const std::string& unit) {
  std::string s;
  for (const auto& [t, v] : m)
    s += (s.empty() ? "" : ", ") + std::to_string(t) + (t == 1 ? " thread " : " threads ") + fixed(v, digits) + " " +
         unit;
  return s;
}

/// About three significant digits, no exponent: 0.0175, 0.389, 3.17, 55.4, 256.
std::string figure(double v) {
  const double a = std::abs(v);
  return fixed(v, a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : a >= 0.1 ? 3 : 4);
}

}  // namespace

Roofline read_roofline(const JsonValue& result, const std::string& what) {
  const JsonValue* benches = result.find("benchmarks");
  if (!benches || !benches->array())
    throw std::invalid_argument(what + ": not a Google Benchmark result (no \"benchmarks\" list)");
  Roofline r;
  if (const JsonValue* ctx = result.find("context")) {
    r.machine = text(*ctx, "cpu_brand");
    if (r.machine.empty()) r.machine = text(*ctx, "cpu_model");
    if (const std::string isa = text(*ctx, "attnlab_isa"); !isa.empty()) r.machine += ", dispatched ISA " + isa;
    if (const std::string p = text(*ctx, "attnlab_profile"); !p.empty()) r.machine += ", profile " + p;
    r.peak_isa = text(*ctx, "fma_peak_isa");
    if (const std::string peaks = text(*ctx, "fma_peak_gflops_by_threads"); !peaks.empty())
      r.peak_gflops = by_threads(peaks, what);
    r.warnings = text(*ctx, "attnlab_warnings");
  }
  // One value per benchmark: the median aggregate where repetitions ran, else the last run.
  std::map<std::string, const JsonValue*> chosen;
  std::vector<std::string> order;
  for (const JsonValue& b : *benches->array()) {
    std::string name = text(b, "run_name");
    if (name.empty()) name = text(b, "name");
    const RunName n = split_run_name(name, what);
    const bool wanted = n.family == "attention" || n.family == "scaling" || name.rfind("peak/stream/triad/", 0) == 0;
    if (!wanted) continue;
    const std::string type = text(b, "run_type");
    if (type == "aggregate" && text(b, "aggregate_name") != "median") continue;
    auto [it, fresh] = chosen.try_emplace(name, &b);
    if (fresh)
      order.push_back(name);
    else if (type == "aggregate" || text(*it->second, "run_type") != "aggregate")
      it->second = &b;
  }
  std::map<std::pair<std::string, std::string>, std::size_t> index;  // (family/kernel, shape) → case
  for (const std::string& name : order) {
    const JsonValue& b = *chosen[name];
    const RunName n = split_run_name(name, what);
    const JsonValue* err = b.find("error_occurred");
    const bool failed = err && err->boolean() && *err->boolean();
    if (n.family == "peak") {
      if (!failed && std::isfinite(number(b, "GB/s"))) r.triad_gbs[n.threads] = number(b, "GB/s");
      continue;
    }
    const auto key = std::make_pair(n.family + "/" + n.kernel, n.shape);
    auto [it, fresh] = index.try_emplace(key, r.cases.size());
    if (fresh) r.cases.push_back({n.family, n.kernel, n.shape, 0, 0, {}, ""});
    RooflineCase& c = r.cases[it->second];
    if (failed) {
      if (c.refused.empty()) c.refused = text(b, "error_message");
      continue;
    }
    const double g = number(b, "GFLOP/s"), flops = number(b, "flops"), bytes = number(b, "bytes_moved");
    if (!std::isfinite(g) || !std::isfinite(flops) || !std::isfinite(bytes))
      throw std::invalid_argument(what + ": " + name +
                                  ": no GFLOP/s, flops and bytes_moved counters (written by "
                                  "attnlab's attention suite)");
    c.flops = flops, c.bytes = bytes, c.gflops[n.threads] = g;
  }
  if (r.cases.empty())
    throw std::invalid_argument(what +
                                ": holds no attention or scaling benchmarks (run `attnlab bench --suites "
                                "peak,attention`)");
  return r;
}

void print_roofline(const Roofline& r, const std::vector<std::string>& kernels, std::ostream& os) {
  std::vector<std::string> present;
  for (const auto& c : r.cases)
    if (std::find(present.begin(), present.end(), c.kernel) == present.end()) present.push_back(c.kernel);
  for (const auto& k : kernels)
    if (std::find(present.begin(), present.end(), k) == present.end())
      throw std::invalid_argument("--kernels: the result holds no benchmark of kernel '" + k + "' (it has " +
                                  join(present) + ")");
  auto shown = [&](const RooflineCase& c) {
    return kernels.empty() || std::find(kernels.begin(), kernels.end(), c.kernel) != kernels.end();
  };
  int tmax = 1;
  for (const auto& c : r.cases)
    if (shown(c) && !c.gflops.empty()) tmax = std::max(tmax, c.gflops.rbegin()->first);

  if (!r.machine.empty()) os << "machine: " << r.machine << "\n";
  if (r.peak_gflops.empty())
    os << "FMA peak: not in this result (a CPU or ATTN_ISA without AVX2+FMA has no FMA loop): no share of peak\n";
  else
    os << "FMA peak (" << (r.peak_isa.empty() ? "?" : r.peak_isa)
       << ", measured in the same run): " << per_thread(r.peak_gflops, 1, "GFLOP/s") << "\n";
  const auto peak_at = [&](int t) {
    const auto it = r.peak_gflops.find(t);
    return it == r.peak_gflops.end() ? std::nan("") : it->second;
  };
  const auto triad_at = [&](int t) {
    const auto it = r.triad_gbs.find(t);
    return it == r.triad_gbs.end() ? std::nan("") : it->second;
  };
  if (r.triad_gbs.empty()) {
    os << "memory roof: no STREAM triad in this result (run the peak suite too): every shape read against the FMA "
          "peak\n";
  } else {
    os << "memory roof (STREAM triad): " << per_thread(r.triad_gbs, 1, "GB/s");
    if (const double ridge = peak_at(1) / triad_at(1); std::isfinite(ridge))
      os << "; ridge point " << fixed(ridge, 1) << " FLOP/byte at 1 thread";
    os << "\n";
  }
  if (!r.warnings.empty()) os << "warnings: " << r.warnings << "\n";
  os << "\n";

  const std::string n = std::to_string(tmax);
  std::vector<std::string> header{"kernel", "shape", "FLOP/byte", "GFLOP/s 1 thr", "% peak 1 thr"};
  if (tmax > 1) {
    header.insert(header.end(), {"GFLOP/s " + n + " thr", "% peak " + n + " thr", n + " thr / 1 thr"});
  }
  header.push_back("bound at 1 thr");
  Table t(header);
  std::vector<std::string> refused;
  for (const auto& c : r.cases) {
    if (!shown(c)) continue;
    const std::string shape = c.family == "attention" ? c.shape : c.family + "/" + c.shape;
    if (c.gflops.empty()) {
      refused.push_back(c.kernel + " on " + shape + ": " + c.refused);
      continue;
    }
    auto at = [&](int threads) {
      const auto it = c.gflops.find(threads);
      return it == c.gflops.end() ? std::nan("") : it->second;
    };
    auto cell = [](double v, const std::string& s) { return std::isfinite(v) ? s : std::string("-"); };
    auto share = [&](int threads) {
      const double s = 100 * at(threads) / peak_at(threads);
      return cell(s, figure(s) + " %");
    };
    std::vector<std::string> row{c.kernel, shape, figure(c.intensity()), cell(at(1), figure(at(1))), share(1)};
    if (tmax > 1) {
      const double scaling = at(tmax) / at(1);
      row.insert(row.end(), {cell(at(tmax), figure(at(tmax))), share(tmax), cell(scaling, fixed(scaling, 2) + "x")});
    }
    // The lower roof: the FMA peak, or what the triad bandwidth can feed at this intensity.
    const double memory_roof = c.intensity() * triad_at(1);
    if (std::isfinite(memory_roof) && memory_roof < peak_at(1)) {
      const double s = 100 * at(1) / memory_roof;
      row.push_back(std::isfinite(s) ? "memory: " + figure(s) + " % of " + figure(memory_roof) + " GFLOP/s"
                                     : "memory: roof " + figure(memory_roof) + " GFLOP/s");
    } else {
      row.push_back(std::isfinite(peak_at(1)) ? "compute" : "-");
    }
    t.add_row(std::move(row));
  }
  t.print(os);
  if (!refused.empty()) {
    os << "\nnot measured:\n";
    for (const auto& x : refused) os << "  " << x << "\n";
  }
}

}  // namespace attnlab
