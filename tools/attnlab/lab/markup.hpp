// Small helpers for writing SVG and HTML by hand: escaping and compact numbers.
#pragma once

#include <string>
#include <string_view>

namespace attnlab {

/// Escapes &, <, >, " and ' for XML text and attribute values.
std::string xml_escape(std::string_view s);

/// A coordinate or value with at most `digits` decimals and no trailing zeros ("12.5", "3").
std::string num(double v, int digits = 2);

}  // namespace attnlab
