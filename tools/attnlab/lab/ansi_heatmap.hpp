// The heatmap in a terminal: one coloured cell per weight (24-bit ANSI
// background in the same reversed viridis as the SVG), the value printed in it.
#pragma once

#include "attention_picture.hpp"

#include <string>

namespace attnlab {

/// With `colour` false the same layout is drawn without escape codes.
std::string ansi_heatmap(const AttentionPicture& p, bool colour);

/// Colour is wanted when stdout is a terminal, --no-color was not given and
/// NO_COLOR (https://no-color.org) is not set.
bool stdout_wants_colour(bool no_color_flag);

}  // namespace attnlab
