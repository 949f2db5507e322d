#include "lab_predict.hpp"

#include "csv.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace attnlab::lab {

namespace {

std::string row_name(int i, const std::string& word) {
  return "row " + std::to_string(i + 1) + " ('" + word + "')";
}

std::string join(const std::vector<std::string>& w) {
  std::string s;
  for (const auto& x : w) s += (s.empty() ? "" : " ") + x;
  return s;
}

int argmax(const Matrix& m, int row) {
  int best = 0;
  for (int j = 1; j < m.cols; ++j)
    if (m.at(row, j) > m.at(row, best)) best = j;
  return best;
}

}  // namespace

Prediction parse_prediction(const std::string& text, const std::string& name) {
  const std::string where = "--predict " + name;
  const auto rows = parse_csv(text, where);
  if (rows.size() < 2)
    throw std::invalid_argument(where + ": expected a header row of words and one row per word, found " +
                                std::to_string(rows.size()) + " row(s)");
  Prediction p;
  p.path = name;
  p.words.assign(rows[0].cells.begin() + 1, rows[0].cells.end());
  const int n = static_cast<int>(p.words.size());
  if (n == 0) throw std::invalid_argument(where + ": the header row has no words after its first (corner) cell");
  for (int j = 0; j < n; ++j)
    if (p.words[static_cast<std::size_t>(j)].empty())
      throw std::invalid_argument(where + ": header column " + std::to_string(j + 2) + " has no word");
  if (static_cast<int>(rows.size()) - 1 != n)
    throw std::invalid_argument(where + ": the table must be square: " + std::to_string(n) +
                                " words in the header but " + std::to_string(rows.size() - 1) + " rows of values");
  p.weights = Matrix(n, n);
  for (int i = 0; i < n; ++i) {
    const CsvRow& row = rows[static_cast<std::size_t>(i) + 1];
    const std::string label = row.cells[0];
    const std::string r = where + " line " + std::to_string(row.line) + ", " + row_name(i, label);
    if (lower(label) != lower(p.words[static_cast<std::size_t>(i)]))
      throw std::invalid_argument(r + ": the row is labelled '" + label + "' but column " + std::to_string(i + 1) +
                                  " is '" + p.words[static_cast<std::size_t>(i)] +
                                  "'; rows and columns must list the same words in the same order");
    if (static_cast<int>(row.cells.size()) != n + 1)
      throw std::invalid_argument(r + ": " + std::to_string(row.cells.size() - 1) + " values, expected " +
                                  std::to_string(n) + " (one per word)");
    double sum = 0;
    for (int j = 0; j < n; ++j) {
      const std::string cell_where = r + ", column '" + p.words[static_cast<std::size_t>(j)] + "'";
      const double x = parse_cell_number(row.cells[static_cast<std::size_t>(j) + 1], cell_where);
      if (x < 0 || x > 1)
        throw std::invalid_argument(cell_where + ": " + row.cells[static_cast<std::size_t>(j) + 1] +
                                    " is outside [0, 1]; a weight is a share of the word's attention");
      p.weights.at(i, j) = static_cast<float>(x);
      sum += x;
    }
    // 1e-9: a decimal table summing to exactly 0.99 must not fail on binary rounding.
    if (std::abs(sum - 1.0) > kPredictionSumTolerance + 1e-9) {
      char buf[96];
      std::snprintf(buf, sizeof buf, ": the values sum to %.4f, not 1.0 (allowed: within %.2f)", sum,
                    kPredictionSumTolerance);
      throw std::invalid_argument(r + buf);
    }
  }
  return p;
}

Prediction read_prediction(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::invalid_argument("--predict: cannot read '" + path + "'");
  std::ostringstream ss;
  ss << f.rdbuf();
  return parse_prediction(ss.str(), path);
}

PredictionMatch match_prediction(const Prediction& p, const std::vector<Sentence>& sentences) {
  std::string given;
  // Pass 0: the same words in the same order; pass 1: the same words in any order.
  for (int pass = 0; pass < 2; ++pass)
    for (std::size_t s = 0; s < sentences.size(); ++s) {
      const auto& t = sentences[s].tokens;
      if (t.size() != p.words.size()) continue;
      PredictionMatch m;
      m.sentence = static_cast<int>(s);
      std::vector<char> used(p.words.size(), 0);
      bool ok = true;
      for (std::size_t i = 0; ok && i < t.size(); ++i) {
        int found = -1;
        if (pass == 0) {
          if (lower(t[i]) == lower(p.words[i])) found = static_cast<int>(i);
        } else {
          for (std::size_t f = 0; f < p.words.size() && found < 0; ++f)
            if (!used[f] && lower(t[i]) == lower(p.words[f])) found = static_cast<int>(f);
        }
        ok = found >= 0;
        if (ok) used[static_cast<std::size_t>(found)] = 1, m.order.push_back(found);
      }
      if (!ok) continue;
      m.reordered = pass == 1;
      return m;
    }
  for (const auto& s : sentences) given += (given.empty() ? "" : "; ") + join(s.tokens);
  throw std::invalid_argument("--predict " + p.path + ": its words (" + join(p.words) +
                              ") are not the tokens of any sentence given (" + given + ")");
}

int match_sentence(const Prediction& p, const std::vector<Sentence>& sentences) {
  return match_prediction(p, sentences).sentence;
}

Prediction aligned(const Prediction& p, const PredictionMatch& m, const std::vector<std::string>& tokens) {
  Prediction a;
  a.path = p.path;
  a.words = tokens;
  const int n = static_cast<int>(m.order.size());
  a.weights = Matrix(n, n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) a.weights.at(i, j) = p.weights.at(m.order[i], m.order[j]);
  return a;
}

PredictionReport compare_prediction(const Prediction& p, int sentence, const Matrix& computed, const Config& config,
                                    int head) {
  PredictionReport r;
  r.sentence = sentence;
  r.head = head;
  const int n = p.weights.rows;
  auto ties = [&](const Matrix& m, int row, int top) {
    std::vector<int> t;
    for (int j = 0; j < n; ++j)
      if (j != top && !masked(config, row, j) && m.at(row, top) - m.at(row, j) <= kTieTolerance) t.push_back(j);
    return t;
  };
  for (int i = 0; i < n; ++i) {
    r.predicted_top.push_back(argmax(p.weights, i));
    r.computed_top.push_back(argmax(computed, i));
    r.predicted_ties.push_back(ties(p.weights, i, r.predicted_top.back()));
    r.computed_ties.push_back(ties(computed, i, r.computed_top.back()));
    std::vector<int> a = r.predicted_ties.back(), b = r.computed_ties.back();
    a.push_back(r.predicted_top.back());
    b.push_back(r.computed_top.back());
    bool share = false;
    for (int x : a)
      for (int y : b) share |= x == y;
    r.top_agrees.push_back(share ? 1 : 0);
    if (share) ++r.agreeing_tops;
    for (int j = 0; j < n; ++j) {
      const double d = std::abs(static_cast<double>(p.weights.at(i, j)) - computed.at(i, j));
      r.mean_abs_diff += d;
      r.max_abs_diff = std::max(r.max_abs_diff, d);
      if (masked(config, i, j) && p.weights.at(i, j) > 0) r.on_masked.push_back({i, j, p.weights.at(i, j)});
    }
  }
  r.mean_abs_diff /= static_cast<double>(n) * n;
  return r;
}

std::string prediction_template(const std::vector<std::string>& tokens, const Config& config) {
  const int n = static_cast<int>(tokens.size());
  std::string out =
      "# Your prediction: how much does each word (row) attend to each word (column)?\n"
      "# Every row must add up to 1 (within 0.01); each value is in [0, 1]. The rows hold an even\n"
      "# split to start from. Lines starting with # are ignored.\n";
  if (config.causal) out += "# Causal mask: a word cannot attend to a later word, so those cells must stay 0.\n";
  auto cell = [](const std::string& w) {
    const bool quote = w.find_first_of(",\"") != std::string::npos || (!w.empty() && w[0] == '#');
    if (!quote) return w;
    std::string q = "\"";
    for (char c : w) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  out += "From -> To";
  for (const auto& t : tokens) out += "," + cell(t);
  out += "\n";
  for (int i = 0; i < n; ++i) {
    int visible = 0;
    for (int j = 0; j < n; ++j) visible += masked(config, i, j) ? 0 : 1;
    // Three decimals; the last visible cell takes the rounding so that the row sums to 1 exactly.
    const double share = std::round(1000.0 / visible) / 1000.0;
    out += cell(tokens[static_cast<std::size_t>(i)]);
    int seen = 0;
    for (int j = 0; j < n; ++j) {
      char buf[32];
      if (masked(config, i, j)) {
        out += ",0";
        continue;
      }
      ++seen;
      const double v = seen == visible ? 1.0 - share * (visible - 1) : share;
      std::snprintf(buf, sizeof buf, ",%.3f", v);
      out += buf;
    }
    out += "\n";
  }
  return out;
}

}  // namespace attnlab::lab
