#include "colormap.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace attnlab {

namespace {

// matplotlib's viridis sampled at 0, 0.1, ..., 1.
constexpr int kViridis[11][3] = {{68, 1, 84},    {72, 36, 117},  {65, 68, 135},  {53, 95, 141},
                                 {42, 120, 142}, {33, 145, 140}, {34, 168, 132}, {68, 191, 112},
                                 {122, 209, 81}, {189, 223, 38}, {253, 231, 37}};

double linear(int c) {
  const double s = c / 255.0;
  return s <= 0.04045 ? s / 12.92 : std::pow((s + 0.055) / 1.055, 2.4);
}

}  // namespace

std::string Rgb::hex() const {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", r, g, b);
  return buf;
}

double Rgb::luminance() const {
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
}

Rgb weight_colour(double t) {
  if (std::isnan(t)) return {128, 128, 128};
  const double u = (1.0 - std::clamp(t, 0.0, 1.0)) * 10.0;  // reversed: strong = dark end of viridis
  const int i = std::min(9, static_cast<int>(u));
  const double f = u - i;
  auto lerp = [&](int c) {
    return static_cast<int>(std::lround(kViridis[i][c] + f * (kViridis[i + 1][c] - kViridis[i][c])));
  };
  return {lerp(0), lerp(1), lerp(2)};
}

Rgb difference_colour(double t) {
  if (std::isnan(t)) return {128, 128, 128};
  const double u = std::clamp(t, -1.0, 1.0);
  const Rgb end = u < 0 ? Rgb{0, 114, 178} : Rgb{213, 94, 0};  // #0072B2, #D55E00
  const double f = std::abs(u);
  auto mix = [&](int a) { return static_cast<int>(std::lround(255 + f * (a - 255))); };
  return {mix(end.r), mix(end.g), mix(end.b)};
}

}  // namespace attnlab
