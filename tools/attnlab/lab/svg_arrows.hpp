// Attention as arrows between words, as a standalone SVG; stroke width and
// opacity proportional to the weight. Up to kRowLayoutTokens words: the words
// in a row, an arc from each query word to each key word (above the row towards
// later words, below towards earlier ones), self-attention as a loop. Longer
// inputs: two columns (BertViz style), queries on the left, keys on the right,
// so that the picture grows in height by a line per word instead of in width.
#pragma once

#include "attention_picture.hpp"

#include <string>

namespace attnlab {

/// Longest input drawn with the words in a row.
inline constexpr int kRowLayoutTokens = 16;

struct ArrowOptions {
  int top_k = -1;  ///< keep each word's k strongest arrows (0 = all; -1 = kThinnedArrows from kThinArrowsFrom words)
  double min_weight = 0;  ///< drop arrows lighter than this
};

/// The k a picture uses under `o` (0 = every arrow).
int effective_top_k(const AttentionPicture& p, const ArrowOptions& o);

/// The arrows a picture draws under `o`, in drawing order (row by row).
struct Arrow {
  int q = 0, k = 0;
  float w = 0;
};
std::vector<Arrow> chosen_arrows(const AttentionPicture& p, const ArrowOptions& o);

/// Every arrow is a <path class="arrow" data-q data-k data-w> ("arrow self" for
/// self-attention); query words are <text class="word" data-q> (in the column
/// layout the key column's words are <text class="kword" data-k>). Masked pairs get no arrow.
/// Widths and opacities are relative to the largest weight (said in the legend, with k when thinned);
/// in the row layout weights are written on their arrows wherever a label fits without
/// overlapping another label or a word (<text class="wlabel" data-q data-k>).
std::string svg_arrows(const AttentionPicture& p, const ArrowOptions& o);

}  // namespace attnlab
