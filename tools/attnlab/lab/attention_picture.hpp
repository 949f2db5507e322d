// What a picture of one attention pattern needs: the words and the weights of
// one sentence and head, and which cells a mask hid. Shared by the SVG, HTML
// and terminal renderers so they never disagree.
#pragma once

#include <string>
#include <vector>

namespace attnlab {

struct AttentionPicture {
  std::string title;                ///< e.g. "I love AI - head 1"
  std::vector<std::string> tokens;  ///< query words = key words
  std::vector<float> weights;       ///< [n, n] row-major: query row, key column
  std::vector<char> masked;         ///< [n, n]: 1 where the key was hidden from the query
  std::string note;                 ///< shown under the picture when not empty

  int n() const { return static_cast<int>(tokens.size()); }
  float w(int i, int j) const { return weights[static_cast<std::size_t>(i) * tokens.size() + j]; }
  bool is_masked(int i, int j) const { return masked[static_cast<std::size_t>(i) * tokens.size() + j] != 0; }
  /// The colour scale, fitted to the data: the smallest and the largest visible weight (lo = 0
  /// when they are equal, so that a lone or uniform row is still drawn). Arrows' widths are
  /// relative to hi. Pictures state this range in their legend.
  struct Range {
    double lo = 0, hi = 1;
  };
  Range scale() const;
  /// Position of weight w on the scale, in [0, 1].
  double on_scale(double w) const;
};

/// From this many words on, arrows are thinned to each word's kThinnedArrows strongest
/// (unless --top-k says otherwise): n² arrows are a fog long before n = 40.
inline constexpr int kThinArrowsFrom = 10;
inline constexpr int kThinnedArrows = 3;

/// A weight as printed in pictures: two significant digits ("0.38", "0.0025", "1.0"), the same
/// for every weight, and never "0" for a positive one (below 0.001: "<0.001").
std::string weight_label(double w);

/// A label no longer than `max_chars` characters (UTF-8 aware), cut with an ellipsis.
std::string short_label(const std::string& s, std::size_t max_chars);

}  // namespace attnlab
