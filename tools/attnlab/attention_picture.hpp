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
  /// Top of the colour/width scale: 1, or the largest weight for inputs of more than 40 words.
  double scale_max() const;
};

/// Long inputs switch to relative scales and thinner pictures past this many tokens.
inline constexpr int kLongInputTokens = 40;

/// A label no longer than `max_chars` characters (UTF-8 aware), cut with an ellipsis.
std::string short_label(const std::string& s, std::size_t max_chars);

}  // namespace attnlab
