// One self-contained interactive HTML page for a lab run: the heatmap and the
// arrows of every sentence and head, a selector for each, and hovering a word
// highlights its row and its arrows. Inline CSS and JavaScript only: it works
// offline and loads nothing from the network.
#pragma once

#include "attention_picture.hpp"
#include "svg_arrows.hpp"

#include <string>
#include <vector>

namespace attnlab {

/// `pictures[s][h]` is sentence s, head h; `texts[s]` the sentence as typed.
/// The page opens on sentence 1, head 1, or on "#s=S&h=H" (1-based) in its URL;
/// "&w=N" also highlights word N as hovering it does.
/// Its script fills the selectors, inserts the chosen SVGs into #heatmap and
/// #arrows, writes a summary into #status and finally sets body[data-ready="1"].
std::string html_report(const std::vector<std::vector<AttentionPicture>>& pictures,
                        const std::vector<std::string>& texts, const ArrowOptions& arrows);

}  // namespace attnlab
