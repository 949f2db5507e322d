// The lab's colour scale: viridis reversed, so that darker means a stronger
// weight. Viridis is perceptually uniform, sequential and readable with the
// common colour-vision deficiencies and in greyscale.
#pragma once

#include <string>

namespace attnlab {

struct Rgb {
  int r = 0, g = 0, b = 0;
  std::string hex() const;  ///< "#rrggbb"
  /// Relative luminance (sRGB, WCAG definition), 0 = black, 1 = white.
  double luminance() const;
  /// White text contrasts more than black on this colour: (1.05)/(L+0.05) > (L+0.05)/0.05, i.e. L < 0.179.
  bool wants_light_text() const { return luminance() < 0.179; }
};

/// Colour of weight t in [0, 1] (clamped; NaN is grey): t = 0 pale yellow, t = 1 deep purple.
Rgb weight_colour(double t);

/// Diverging colour for a signed difference t in [-1, 1] (clamped): blue below 0, white at 0,
/// orange above (the Okabe-Ito pair the arrows use, readable with colour-vision deficiencies).
Rgb difference_colour(double t);

/// Colour used for cells a causal mask hides (never a weight colour).
inline constexpr const char* kMaskedFill = "#d9d9d9";

}  // namespace attnlab
