#include "ansi_heatmap.hpp"

#include "colormap.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace attnlab {

namespace {

std::size_t chars(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string pad_left(const std::string& s, std::size_t w) {
  const std::size_t c = chars(s);
  return c >= w ? s : std::string(w - c, ' ') + s;
}

}  // namespace

std::string ansi_heatmap(const AttentionPicture& p, bool colour) {
  const int n = p.n();
  const bool compact = n > 16;  // long inputs: 3-character cells, values in hundredths
  const std::size_t cw = compact ? 3 : 6;
  std::vector<std::string> labels;
  std::size_t lw = 1;
  for (const auto& t : p.tokens) {
    labels.push_back(short_label(t, compact ? 8 : 12));
    lw = std::max(lw, chars(labels.back()));
  }
  std::string out = p.title + "\n" + std::string(lw + 1, ' ');
  for (int j = 0; j < n; ++j) out += " " + pad_left(short_label(labels[j], cw), cw);
  out += "\n";
  for (int i = 0; i < n; ++i) {
    out += pad_left(labels[i], lw) + " ";
    for (int j = 0; j < n; ++j) {
      std::string v;
      if (p.is_masked(i, j)) {
        v = compact ? " \u00b7 " : "  \u00b7   ";
      } else {
        const double w = p.w(i, j);
        char buf[16];
        if (compact && w > 0 && w < 0.005)  // never "0" for a positive weight
          std::snprintf(buf, sizeof buf, " <1");
        else if (compact)
          std::snprintf(buf, sizeof buf, "%3d", static_cast<int>(w * 100 + 0.5));
        else
          std::snprintf(buf, sizeof buf, " %.2f ", w);
        v = buf;
      }
      out += " ";
      if (colour && !p.is_masked(i, j)) {
        const Rgb c = weight_colour(p.on_scale(p.w(i, j)));
        char esc[48];
        std::snprintf(esc, sizeof esc, "\x1b[48;2;%d;%d;%dm\x1b[38;2;%s", c.r, c.g, c.b,
                      c.wants_light_text() ? "255;255;255m" : "0;0;0m");
        out += esc + v + "\x1b[0m";
      } else if (colour) {
        out += "\x1b[48;2;217;217;217m\x1b[38;2;90;90;90m" + v + "\x1b[0m";
      } else {
        out += v;
      }
    }
    out += "\n";
  }
  if (compact) out += "(weights in hundredths; <1: below 0.005)\n";
  if (colour) {
    const AttentionPicture::Range r = p.scale();
    out += "colour scale fitted to these weights: " + weight_label(r.lo) + " (lightest) to " + weight_label(r.hi) +
           " (darkest)\n";
  }
  if (std::any_of(p.masked.begin(), p.masked.end(), [](char m) { return m != 0; })) out += "\u00b7 = masked\n";
  return out;
}

bool stdout_wants_colour(bool no_color_flag) {
  if (no_color_flag) return false;
  const char* env = std::getenv("NO_COLOR");
  if (env && *env) return false;
  return isatty(STDOUT_FILENO) != 0;
}

}  // namespace attnlab
