// Attention as arrows between words, as a standalone SVG: the words in a row,
// an arc from each query word to each key word (above the row towards later
// words, below towards earlier ones), self-attention as a loop; stroke width
// and opacity proportional to the weight.
#pragma once

#include "attention_picture.hpp"

#include <string>

namespace attnlab {

struct ArrowOptions {
  int top_k = 0;           ///< keep each word's k strongest arrows (0 = all)
  double min_weight = 0;   ///< drop arrows lighter than this
};

/// The arrows a picture draws under `o`, in drawing order (row by row).
struct Arrow {
  int q = 0, k = 0;
  float w = 0;
};
std::vector<Arrow> chosen_arrows(const AttentionPicture& p, const ArrowOptions& o);

/// Every arrow is a <path class="arrow" data-q data-k data-w> ("arrow self" for
/// loops); words are <text class="word" data-q>. Masked pairs get no arrow.
std::string svg_arrows(const AttentionPicture& p, const ArrowOptions& o);

}  // namespace attnlab
