#include "lab_picture.hpp"

namespace attnlab::lab {

AttentionPicture picture_of(const Sentence& s, int head, const Config& c) {
  AttentionPicture p;
  p.title = "\"" + short_label(s.text, 60) + "\"" +
            (c.heads > 1 ? ", head " + std::to_string(head + 1) : std::string()) + (c.causal ? " (causal)" : "");
  p.tokens = s.tokens;
  const Matrix& w = s.heads[static_cast<std::size_t>(head)].weights;
  p.weights = w.v;
  const int n = w.rows;
  p.masked.assign(static_cast<std::size_t>(n) * n, 0);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) p.masked[static_cast<std::size_t>(i) * n + j] = masked(c, i, j) ? 1 : 0;
  return p;
}

std::string slug(const std::string& text, int index) {
  std::string s = "s" + std::to_string(index + 1) + "-";
  for (char c : lower(text)) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (keep)
      s += c;
    else if (s.back() != '-')
      s += '-';
    if (s.size() >= 32) break;
  }
  while (s.back() == '-') s.pop_back();
  return s;
}

}  // namespace attnlab::lab
