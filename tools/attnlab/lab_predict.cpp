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

int match_sentence(const Prediction& p, const std::vector<Sentence>& sentences) {
  std::string given;
  for (std::size_t s = 0; s < sentences.size(); ++s) {
    const auto& t = sentences[s].tokens;
    bool same = t.size() == p.words.size();
    for (std::size_t i = 0; same && i < t.size(); ++i) same = lower(t[i]) == lower(p.words[i]);
    if (same) return static_cast<int>(s);
    given += (given.empty() ? "" : "; ") + join(t);
  }
  throw std::invalid_argument("--predict " + p.path + ": its words (" + join(p.words) +
                              ") are not the tokens of any sentence given (" + given + ")");
}

PredictionReport compare_prediction(const Prediction& p, int sentence, const Matrix& computed) {
  PredictionReport r;
  r.sentence = sentence;
  const int n = p.weights.rows;
  for (int i = 0; i < n; ++i) {
    r.predicted_top.push_back(argmax(p.weights, i));
    r.computed_top.push_back(argmax(computed, i));
    if (r.predicted_top.back() == r.computed_top.back()) ++r.agreeing_tops;
    for (int j = 0; j < n; ++j) {
      const double d = std::abs(static_cast<double>(p.weights.at(i, j)) - computed.at(i, j));
      r.mean_abs_diff += d;
      r.max_abs_diff = std::max(r.max_abs_diff, d);
    }
  }
  r.mean_abs_diff /= static_cast<double>(n) * n;
  return r;
}

}  // namespace attnlab::lab
