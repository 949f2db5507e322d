#include "attention_picture.hpp"

#include <algorithm>

namespace attnlab {

double AttentionPicture::scale_max() const {
  if (n() <= kLongInputTokens) return 1.0;
  double m = 0;
  for (std::size_t i = 0; i < weights.size(); ++i)
    if (!masked[i]) m = std::max(m, static_cast<double>(weights[i]));
  return m > 0 ? m : 1.0;
}

std::string short_label(const std::string& s, std::size_t max_chars) {
  if (max_chars == 0) return "";
  std::size_t chars = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (chars == max_chars) break;
      ++chars;
    }
  }
  if (i >= s.size()) return s;
  // Cut before the last kept character to make room for the ellipsis.
  std::size_t cut = i;
  do --cut;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80);
  return s.substr(0, cut) + "\u2026";
}

}  // namespace attnlab
