#include "lab_worked_cell.hpp"

#include "table.hpp"

#include <cmath>

namespace attnlab::lab {

namespace {

/// "a + b + c", or the first terms and "+ ... (n terms)" past `keep`.
std::string sum_of(const std::vector<std::string>& terms, std::size_t keep = 6) {
  std::string s;
  for (std::size_t i = 0; i < terms.size() && i < keep; ++i) s += (i ? " + " : "") + terms[i];
  if (terms.size() > keep) s += " + ... (" + std::to_string(terms.size()) + " terms)";
  return s;
}

std::string paren(double v, int digits) {
  return "(" + fixed(v, digits) + ")";
}

}  // namespace

WorkedCell worked_cell(const Head& h, const Config& config) {
  const int n = h.weights.rows;
  const int q = n > 1 ? 1 : 0;
  // Its strongest key other than itself when there is one: exp(score - max) is then not simply exp(0).
  int k = q;
  for (int j = 0; j < n; ++j)
    if (j != q && !masked(config, q, j) && (k == q || h.weights.at(q, j) > h.weights.at(q, k))) k = j;
  return worked_cell(h, config, q, k);
}

WorkedCell worked_cell(const Head& h, const Config& config, int query, int key) {
  WorkedCell w;
  w.query = query, w.key = key;
  const int dk = h.q.cols;
  for (int t = 0; t < dk; ++t) {
    w.q.push_back(h.q.at(query, t));
    w.k.push_back(h.k.at(key, t));
    w.dot += w.q.back() * w.k.back();
  }
  w.sqrt_dk = std::sqrt(static_cast<double>(dk));
  w.score = h.scores.at(query, key);
  w.row_max = h.row_max[static_cast<std::size_t>(query)];
  w.exp_value = std::exp(w.score - w.row_max);
  w.row_sum = h.row_sum[static_cast<std::size_t>(query)];
  w.weight = w.exp_value / w.row_sum;
  w.engine = h.weights.at(query, key);
  for (int j = 0; j < h.weights.cols; ++j)
    if (!masked(config, query, j)) w.row_exps.push_back(h.exps.at(query, j));
  return w;
}

std::vector<std::string> worked_cell_lines(const WorkedCell& w, const std::vector<std::string>& tokens, int digits) {
  const std::string q = "\"" + tokens[static_cast<std::size_t>(w.query)] + "\"";
  const std::string k = "\"" + tokens[static_cast<std::size_t>(w.key)] + "\"";
  std::vector<std::string> products, exps;
  for (std::size_t t = 0; t < w.q.size(); ++t) products.push_back(paren(w.q[t], digits) + paren(w.k[t], digits));
  for (double e : w.row_exps) exps.push_back(fixed(e, digits));
  return {
      "Worked cell: " + q + " \u2192 " + k + ", by hand",
      "  q \u00b7 k   = " + sum_of(products) + " = " + fixed(w.dot, digits),
      "  score   = " + fixed(w.dot, digits) + " / \u221a" + std::to_string(w.q.size()) + " = " + fixed(w.dot, digits) +
          " / " + fixed(w.sqrt_dk, 3) + " = " + fixed(w.score, digits),
      "  exp(score - row max) = exp(" + fixed(w.score, digits) + " - " + fixed(w.row_max, digits) +
          ") = " + fixed(w.exp_value, digits),
      "  row sum = " + sum_of(exps) + " = " + fixed(w.row_sum, digits),
      "  weight  = " + fixed(w.exp_value, digits) + " / " + fixed(w.row_sum, digits) + " = " + fixed(w.weight, digits) +
          "   (the engine: " + fixed(w.engine, digits) + ")",
  };
}

}  // namespace attnlab::lab
