// The lab as one self-contained HTML notebook: every step of every sentence
// and head as a table (X, cosine similarity, W, Q, K, V, scores, exp(scores -
// max), row sums, weights, output) with one cell worked out by hand, the
// heatmap and the arrows, the reflection answers, the predictions beside the
// computed weights with a difference heatmap and a score, and two sentences side
// by side. Inline CSS and JavaScript only: it works offline, loads nothing from
// the network, and prints to PDF (print CSS: one sentence per page, no controls).
#pragma once

#include "lab_session.hpp"
#include "svg_arrows.hpp"

#include <string>

namespace attnlab {

/// The notebook. Sections: #setup, #s{S} (sentence S) holding #s{S}-h{H} (head H) with
/// .figures (the SVGs), #predictions, #compare (the side-by-side view with #compare-a,
/// #compare-b, #compare-head selectors), #shared. The page's script wires hovering (a
/// word highlights its row and arrows within its figure), the side-by-side selectors, and
/// "#compare=A,B,H" in the URL; it sets body[data-ready="1"] when done.
std::string html_notebook(const lab::Session& session, const ArrowOptions& arrows, int digits);

}  // namespace attnlab
