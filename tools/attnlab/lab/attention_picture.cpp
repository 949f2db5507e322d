#include "attention_picture.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace attnlab {

AttentionPicture::Range AttentionPicture::scale() const {
  Range r{std::numeric_limits<double>::infinity(), 0};
  for (std::size_t i = 0; i < weights.size(); ++i)
    if (!masked[i])
      r.lo = std::min(r.lo, static_cast<double>(weights[i])), r.hi = std::max(r.hi, static_cast<double>(weights[i]));
  if (!(r.hi > 0)) return {0, 1};
  if (r.hi - r.lo < 1e-9) r.lo = 0;
  return r;
}

double AttentionPicture::on_scale(double w) const {
  const Range r = scale();
  return std::clamp((w - r.lo) / (r.hi - r.lo), 0.0, 1.0);
}

std::string weight_label(double w) {
  if (!std::isfinite(w)) return "?";
  if (w <= 0) return "0";
  if (w < 0.001) return "<0.001";
  // Two significant digits: the number of decimals follows the first digit's position.
  const int decimals = std::max(1, 1 - static_cast<int>(std::floor(std::log10(w))));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, w);
  std::string s = buf;
  // Rounding up can add a digit (0.0996 -> "0.100"): print it again one decimal shorter.
  if (decimals > 1 && std::abs(std::stod(s)) >= std::pow(10.0, 2 - decimals)) {
    std::snprintf(buf, sizeof buf, "%.*f", decimals - 1, w);
    s = buf;
  }
  return s;
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
