// attnlab scaling: why attention divides by √d. For random unit-variance q and k
// the raw dot product q·k has standard deviation √d, so without the 1/√d factor
// the softmax rows sharpen towards one-hot as d grows; with it they stay put.
#include "commands.hpp"
#include "files.hpp"
#include "table.hpp"

#include <attn/softmax.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace attnlab {

namespace {

struct ScalingOptions {
  std::string dims = "4,16,64,256,1024";
  int queries = 64, keys = 256;
  std::uint64_t seed = 1;
  std::string out;
};

struct Stats {
  int d = 0;
  double raw_std = 0;
  double entropy_raw = 0, entropy_scaled = 0;  // nats, mean over query rows
  double top_raw = 0, top_scaled = 0;          // mean largest weight
};

std::vector<int> parse_dims(const std::string& text) {
  std::vector<int> dims;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    std::size_t used = 0;
    long v = 0;
    try {
      v = std::stol(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || item.empty() || v < 1 || v > 65536)
      throw std::invalid_argument("--dims: '" + item +
                                  "' is not a dimension (integers 1..65536, comma-separated, e.g. 4,16,64)");
    dims.push_back(static_cast<int>(v));
  }
  if (dims.empty()) throw std::invalid_argument("--dims: the list is empty");
  return dims;
}

/// Entropy (nats) and largest weight of softmax(s) for one row.
void row_stats(const std::vector<double>& s, std::vector<double>& p, double& entropy, double& top) {
  p.resize(s.size());
  attn::softmax::safe(s.data(), p.data(), s.size());
  entropy = 0;
  top = 0;
  for (double w : p) {
    if (w > 0) entropy -= w * std::log(w);
    top = std::max(top, w);
  }
}

Stats measure(int d, int nq, int nk, std::uint64_t seed) {
  std::mt19937_64 gen(seed * 1000003u + static_cast<std::uint64_t>(d));
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> q(static_cast<std::size_t>(nq) * d), k(static_cast<std::size_t>(nk) * d);
  for (double& v : q) v = normal(gen);
  for (double& v : k) v = normal(gen);
  Stats st;
  st.d = d;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  double sum = 0, sum2 = 0;
  std::vector<double> raw(nk), scaled(nk), p;
  for (int i = 0; i < nq; ++i) {
    for (int j = 0; j < nk; ++j) {
      double dot = 0;
      for (int t = 0; t < d; ++t)
        dot += q[static_cast<std::size_t>(i) * d + t] * k[static_cast<std::size_t>(j) * d + t];
      raw[j] = dot;
      scaled[j] = dot * scale;
      sum += dot;
      sum2 += dot * dot;
    }
    double h, top;
    row_stats(raw, p, h, top);
    st.entropy_raw += h / nq;
    st.top_raw += top / nq;
    row_stats(scaled, p, h, top);
    st.entropy_scaled += h / nq;
    st.top_scaled += top / nq;
  }
  const double count = static_cast<double>(nq) * nk;
  const double mean = sum / count;
  st.raw_std = std::sqrt(std::max(0.0, sum2 / count - mean * mean));
  return st;
}

/// A small self-contained SVG: mean largest weight and entropy / log(keys) against d.
std::string chart(const std::vector<Stats>& rows, int nk) {
  const double W = 720, H = 420, L = 70, R = 200, T = 40, B = 60;
  const double pw = W - L - R, ph = H - T - B;
  const double x0 = std::log2(static_cast<double>(rows.front().d)), x1 = std::log2(static_cast<double>(rows.back().d));
  auto X = [&](int d) { return L + (x1 > x0 ? (std::log2(static_cast<double>(d)) - x0) / (x1 - x0) : 0.5) * pw; };
  auto Y = [&](double v) { return T + (1 - v) * ph; };
  const double hmax = std::log(static_cast<double>(nk));
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(1);
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W
    << ' ' << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << L << "\" y=\"24\" font-size=\"15\">Softmax of q·k over " << nk
    << " keys: with and without the 1/√d scale</text>\n";
  for (int i = 0; i <= 4; ++i) {  // y grid
    const double v = i / 4.0;
    s << "<line x1=\"" << L << "\" y1=\"" << Y(v) << "\" x2=\"" << L + pw << "\" y2=\"" << Y(v)
      << "\" stroke=\"#ddd\"/>\n"
      << "<text x=\"" << L - 8 << "\" y=\"" << Y(v) + 4 << "\" text-anchor=\"end\">"
      << (i == 0   ? "0"
          : i == 4 ? "1"
                   : std::to_string(i * 25) + "%")
      << "</text>\n";
  }
  for (const Stats& r : rows)  // x ticks
    s << "<text x=\"" << X(r.d) << "\" y=\"" << T + ph + 18 << "\" text-anchor=\"middle\">" << r.d << "</text>\n";
  s << "<text x=\"" << L + pw / 2 << "\" y=\"" << H - 16
    << "\" text-anchor=\"middle\">head dimension d (log scale)</text>\n"
    << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << pw << "\" height=\"" << ph
    << "\" fill=\"none\" stroke=\"#888\"/>\n";
  struct Series {
    const char* label;
    const char* colour;
    const char* dash;
    double (*value)(const Stats&, double);
  };
  const Series series[] = {
      {"largest weight, q·k", "#d62728", "", [](const Stats& r, double) { return r.top_raw; }},
      {"largest weight, q·k/√d", "#1f77b4", "", [](const Stats& r, double) { return r.top_scaled; }},
      {"entropy/log n, q·k", "#d62728", "6,4", [](const Stats& r, double h) { return r.entropy_raw / h; }},
      {"entropy/log n, q·k/√d", "#1f77b4", "6,4", [](const Stats& r, double h) { return r.entropy_scaled / h; }},
  };
  int k = 0;
  for (const Series& se : series) {
    s << "<polyline fill=\"none\" stroke=\"" << se.colour << "\" stroke-width=\"2\""
      << (*se.dash ? " stroke-dasharray=\"" : "") << se.dash << (*se.dash ? "\"" : "") << " points=\"";
    for (const Stats& r : rows) s << X(r.d) << ',' << Y(std::clamp(se.value(r, hmax), 0.0, 1.0)) << ' ';
    s << "\"/>\n";
    for (const Stats& r : rows)
      s << "<circle cx=\"" << X(r.d) << "\" cy=\"" << Y(std::clamp(se.value(r, hmax), 0.0, 1.0)) << "\" r=\"3\" fill=\""
        << se.colour << "\"/>\n";
    const double ly = T + 14 + 22 * k++;
    s << "<line x1=\"" << L + pw + 12 << "\" y1=\"" << ly << "\" x2=\"" << L + pw + 40 << "\" y2=\"" << ly
      << "\" stroke=\"" << se.colour << "\" stroke-width=\"2\"" << (*se.dash ? " stroke-dasharray=\"" : "") << se.dash
      << (*se.dash ? "\"" : "") << "/>\n"
      << "<text x=\"" << L + pw + 46 << "\" y=\"" << ly + 4 << "\">" << se.label << "</text>\n";
  }
  s << "</svg>\n";
  return s.str();
}

void run_scaling(const ScalingOptions& o) {
  const std::vector<int> dims = parse_dims(o.dims);
  if (o.queries < 1 || o.queries > 100000)
    throw std::invalid_argument("--queries: must be in 1..100000, got " + std::to_string(o.queries));
  if (o.keys < 2 || o.keys > 100000)
    throw std::invalid_argument("--keys: must be in 2..100000, got " + std::to_string(o.keys));
  if (!o.out.empty()) check_output_file("--out", o.out, "scaling.svg");
  std::vector<Stats> rows;
  for (int d : dims) {
    std::cerr << "attnlab scaling: d = " << d << "\n";
    rows.push_back(measure(d, o.queries, o.keys, o.seed));
  }
  std::sort(rows.begin(), rows.end(), [](const Stats& a, const Stats& b) { return a.d < b.d; });
  std::cout << "q, k: " << o.queries << " queries and " << o.keys << " keys per d, entries N(0, 1), seed " << o.seed
            << ". Entropy in nats (uniform over the keys: log " << o.keys << " = " << fixed(std::log(o.keys), 3)
            << "; one-hot: 0).\n\n";
  Table t({"d", "√d", "std(q·k)", "entropy q·k", "entropy q·k/√d", "largest weight q·k", "largest weight q·k/√d"});
  for (const Stats& r : rows)
    t.add_row({std::to_string(r.d), fixed(std::sqrt(r.d), 2), fixed(r.raw_std, 2), fixed(r.entropy_raw, 3),
               fixed(r.entropy_scaled, 3), fixed(r.top_raw, 3), fixed(r.top_scaled, 3)});
  t.print(std::cout);
  if (!o.out.empty()) {
    try {
      write_file_atomic(o.out, chart(rows, o.keys));
    } catch (const std::invalid_argument& e) {  // names the path and the system error (a full disk, say)
      throw std::invalid_argument(std::string("--out: ") + e.what());
    }
    std::cout << "\nchart written to " << o.out << "\n";
  }
}

}  // namespace

void add_scaling_command(CLI::App& app) {
  auto o = std::make_shared<ScalingOptions>();
  CLI::App* cmd =
      app.add_subcommand("scaling", "Why q·k is divided by √d: softmax sharpness with and without the scale");
  cmd->footer(
      "Random unit-variance q and k: std(q·k) grows as √d, so unscaled softmax rows collapse to one-hot\n"
      "(entropy → 0, largest weight → 1) while q·k/√d keeps them the same for every d.\n"
      "Example: attnlab scaling --out scaling.svg");
  cmd->add_option("--dims", o->dims, "Head dimensions, comma-separated")->capture_default_str();
  cmd->add_option("--queries", o->queries, "Query rows per d")->capture_default_str();
  cmd->add_option("--keys", o->keys, "Keys per row (softmax length)")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of q and k")->capture_default_str();
  cmd->add_option("--out", o->out, "Also write an SVG chart to this file");
  cmd->callback([o] { run_scaling(*o); });
}

}  // namespace attnlab
