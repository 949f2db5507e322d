#include "lab_reflect.hpp"

#include <algorithm>
#include <cmath>

namespace attnlab::lab {

namespace {

int index_of(const std::vector<std::string>& tokens, const std::string& lowered) {
  for (std::size_t i = 0; i < tokens.size(); ++i)
    if (lower(tokens[i]) == lowered) return static_cast<int>(i);
  return -1;
}

}  // namespace

Reflection reflect(const Matrix& w, const Config& config) {
  Reflection r;
  const int n = w.rows;
  double best_outward = -1;
  for (int i = 0; i < n; ++i) {
    WordFocus f;
    int visible = 0;
    for (int j = 0; j < n; ++j) {
      const double x = w.at(i, j);
      if (!masked(config, i, j)) ++visible;
      if (x > f.top_weight || j == 0) f.top_weight = x, f.top_key = j;
      if (x > 0) f.entropy_bits -= x * std::log2(x);
    }
    for (int j = 0; j < n; ++j)
      if (j != f.top_key && !masked(config, i, j) && f.top_weight - w.at(i, j) <= kTieTolerance)
        f.tied_keys.push_back(j);
    f.self_weight = w.at(i, i);
    f.max_entropy_bits = std::log2(static_cast<double>(visible));
    if (1 - f.self_weight > best_outward) best_outward = 1 - f.self_weight, r.most_outward = i;
    r.words.push_back(f);
  }
  auto is_top = [&](int i, int j) {
    const WordFocus& f = r.words[static_cast<std::size_t>(i)];
    return f.top_key == j || std::find(f.tied_keys.begin(), f.tied_keys.end(), j) != f.tied_keys.end();
  };
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) {
      if (is_top(i, j) && is_top(j, i)) r.mutual.emplace_back(i, j);
      if (masked(config, i, j) || masked(config, j, i)) continue;
      const double d = std::abs(static_cast<double>(w.at(i, j)) - w.at(j, i));
      if (d > r.symmetry_max || r.symmetry_pairs == 0) r.symmetry_max = d, r.asym_i = i, r.asym_j = j;
      ++r.symmetry_pairs;
    }
  return r;
}

Comparison compare_shared(const std::vector<Sentence>& s, int a, int b, int head) {
  Comparison c;
  c.a = a, c.b = b, c.head = head;
  const Sentence& sa = s[static_cast<std::size_t>(a)];
  const Sentence& sb = s[static_cast<std::size_t>(b)];
  std::vector<int> ia, ib;
  for (std::size_t i = 0; i < sa.tokens.size(); ++i) {
    const std::string w = lower(sa.tokens[i]);
    if (index_of(sa.tokens, w) != static_cast<int>(i)) continue;  // a repeat: first occurrence only
    const int j = index_of(sb.tokens, w);
    if (j < 0) continue;
    c.shared.push_back(w);
    ia.push_back(static_cast<int>(i));
    ib.push_back(j);
  }
  const Matrix& wa = sa.heads[static_cast<std::size_t>(head)].weights;
  const Matrix& wb = sb.heads[static_cast<std::size_t>(head)].weights;
  for (std::size_t x = 0; x < c.shared.size(); ++x)
    for (std::size_t y = 0; y < c.shared.size(); ++y)
      c.pairs.push_back({sa.tokens[static_cast<std::size_t>(ia[x])], sa.tokens[static_cast<std::size_t>(ia[y])],
                         wa.at(ia[x], ia[y]), wb.at(ib[x], ib[y])});
  return c;
}

}  // namespace attnlab::lab
