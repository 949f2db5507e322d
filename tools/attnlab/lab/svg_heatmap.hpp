// The attention heatmap as a standalone SVG: query words down the left, key
// words along the top, one cell per (query, key) with its weight printed,
// reversed viridis (darker = stronger) with a legend, masked cells hatched.
#pragma once

#include "attention_picture.hpp"

#include <string>

namespace attnlab {

/// Every cell is a <rect class="cell" data-q data-k data-w>; masked cells carry
/// class "cell masked" and no data-w. Row labels are <text class="qlabel" data-q>.
std::string svg_heatmap(const AttentionPicture& p);

}  // namespace attnlab
