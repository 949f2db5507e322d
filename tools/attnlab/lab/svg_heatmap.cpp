#include "svg_heatmap.hpp"

#include "colormap.hpp"
#include "markup.hpp"

#include <algorithm>
#include <sstream>

namespace attnlab {

namespace {

std::size_t chars(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

}  // namespace

std::string svg_heatmap(const AttentionPicture& p) {
  const int n = p.n();
  const AttentionPicture::Range range = p.scale();
  const std::string title = short_label(p.title, 80);  // the full title stays in <title>
  const double cell = n <= 8 ? 64.0 : std::clamp(960.0 / n, 14.0, 64.0);
  const double font = std::clamp(cell * 0.3, 8.0, 14.0);
  const double char_w = font * 0.62;
  std::vector<std::string> labels;
  std::size_t longest = 1;
  for (const auto& t : p.tokens) {
    labels.push_back(short_label(t, 16));
    longest = std::max(longest, chars(labels.back()));
  }
  const double label_w = static_cast<double>(longest) * char_w;
  const bool rotate = label_w > cell - 4;  // column labels that do not fit upright are slanted
  const double left = label_w + 40;
  const double top = 56 + (rotate ? label_w * 0.72 + 8 : font + 8);
  const double grid = cell * n;
  const double legend_x = left + grid + 24, legend_h = std::min(std::max(grid, 120.0), 240.0);
  const bool any_masked = std::any_of(p.masked.begin(), p.masked.end(), [](char m) { return m != 0; });
  // Values are printed in every cell they fit in, shrinking the text down to 7 px; the widest label decides.
  std::size_t widest = 1;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      if (!p.is_masked(i, j)) widest = std::max(widest, weight_label(p.w(i, j)).size());
  const double value_font = std::min(font, (cell - 4) / (0.62 * static_cast<double>(widest)));
  const bool values = value_font >= 7;
  const std::string scale_line = "colour scale fitted to these weights: " + weight_label(range.lo) + " (lightest) to " +
                                 weight_label(range.hi) + " (darkest)" +
                                 (values ? std::string() : "; cells too small for values: hover for them");
  const double width =
      std::max({legend_x + 110, static_cast<double>(chars(title)) * 9.5 + 24,
                static_cast<double>(chars(p.note)) * 7.0 + 24, static_cast<double>(chars(scale_line)) * 6.6 + 24});
  const double note_h = 22 + (p.note.empty() ? 0 : 22);
  const double height = top + std::max(grid, legend_h + (any_masked ? 50 : 0)) + 40 + note_h;

  std::ostringstream s;
  s << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"attn-heatmap\" width=\"" << num(width, 0) << "\" height=\""
    << num(height, 0) << "\" viewBox=\"0 0 " << num(width, 0) << ' ' << num(height, 0)
    << "\" font-family=\"DejaVu Sans, Arial, sans-serif\" data-tokens=\"" << n << "\">\n";
  s << "<title>" << xml_escape("Attention weights: " + p.title) << "</title>\n";
  s << "<defs>\n<pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
       "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\""
    << kMaskedFill
    << "\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#7f7f7f\" stroke-width=\"2\"/></pattern>\n";
  s << "<linearGradient id=\"scale\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">";
  for (int i = 0; i <= 10; ++i)
    s << "<stop offset=\"" << num(i / 10.0) << "\" stop-color=\"" << weight_colour(i / 10.0).hex() << "\"/>";
  s << "</linearGradient>\n</defs>\n";
  s << "<style>rect.cell { stroke: #ffffff; }</style>\n";  // once, not per cell: long inputs have n\u00b2 cells
  s << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  s << "<text x=\"12\" y=\"22\" font-size=\"15\" font-weight=\"bold\">" << xml_escape(title) << "</text>\n";
  s << "<text x=\"" << num(left + grid / 2) << "\" y=\"42\" font-size=\"12\" text-anchor=\"middle\" fill=\"#333\">"
    << "key: the word attended to \u2192</text>\n";
  s << "<text transform=\"translate(14 " << num(top + grid / 2) << ") rotate(-90)\" font-size=\"12\" "
    << "text-anchor=\"middle\" fill=\"#333\">\u2190 query: the word attending</text>\n";

  for (int j = 0; j < n; ++j) {
    const double x = left + cell * (j + 0.5);
    if (rotate)
      s << "<text class=\"klabel\" data-k=\"" << j << "\" transform=\"translate(" << num(x) << ' ' << num(top - 6)
        << ") rotate(-45)\" font-size=\"" << num(font) << "\">" << xml_escape(labels[j]) << "</text>\n";
    else
      s << "<text class=\"klabel\" data-k=\"" << j << "\" x=\"" << num(x) << "\" y=\"" << num(top - 8)
        << "\" font-size=\"" << num(font) << "\" text-anchor=\"middle\">" << xml_escape(labels[j]) << "</text>\n";
  }
  for (int i = 0; i < n; ++i) {
    const double y = top + cell * i;
    s << "<text class=\"qlabel\" data-q=\"" << i << "\" x=\"" << num(left - 8) << "\" y=\""
      << num(y + cell / 2 + font * 0.35) << "\" font-size=\"" << num(font) << "\" text-anchor=\"end\">"
      << xml_escape(labels[i]) << "</text>\n";
    for (int j = 0; j < n; ++j) {
      const double x = left + cell * j;
      const std::string who = p.tokens[i] + " \u2192 " + p.tokens[j];
      if (p.is_masked(i, j)) {
        s << "<rect class=\"cell masked\" data-q=\"" << i << "\" data-k=\"" << j << "\" x=\"" << num(x) << "\" y=\""
          << num(y) << "\" width=\"" << num(cell) << "\" height=\"" << num(cell) << "\" fill=\"url(#hatch)\"><title>"
          << xml_escape(who) << ": masked (the key comes later)</title></rect>\n";
        continue;
      }
      const double w = p.w(i, j);
      const Rgb c = weight_colour(p.on_scale(w));
      s << "<rect class=\"cell\" data-q=\"" << i << "\" data-k=\"" << j << "\" data-w=\"" << num(w, 6) << "\" x=\""
        << num(x) << "\" y=\"" << num(y) << "\" width=\"" << num(cell) << "\" height=\"" << num(cell) << "\" fill=\""
        << c.hex() << "\"><title>" << xml_escape(who) << ": " << num(w, 4) << "</title></rect>\n";
      if (values)
        s << "<text class=\"value\" x=\"" << num(x + cell / 2) << "\" y=\"" << num(y + cell / 2 + value_font * 0.35)
          << "\" font-size=\"" << num(value_font) << "\" text-anchor=\"middle\" fill=\""
          << (c.wants_light_text() ? "#ffffff" : "#000000") << "\" pointer-events=\"none\">"
          << xml_escape(weight_label(w)) << "</text>\n";
    }
  }
  // Legend: the scale fitted to these weights, from the smallest (bottom) to the largest, and the masked swatch.
  s << "<g class=\"legend\" data-lo=\"" << num(range.lo, 6) << "\" data-hi=\"" << num(range.hi, 6) << "\">\n<text x=\""
    << num(legend_x) << "\" y=\"" << num(top - 8) << "\" font-size=\"12\">weight</text>\n";
  s << "<rect x=\"" << num(legend_x) << "\" y=\"" << num(top) << "\" width=\"16\" height=\"" << num(legend_h)
    << "\" fill=\"url(#scale)\" stroke=\"#555\"/>\n";
  for (int t = 0; t <= 4; ++t) {
    const double y = top + legend_h * (1 - t / 4.0);
    s << "<line x1=\"" << num(legend_x + 16) << "\" x2=\"" << num(legend_x + 21) << "\" y1=\"" << num(y) << "\" y2=\""
      << num(y) << "\" stroke=\"#555\"/><text x=\"" << num(legend_x + 24) << "\" y=\"" << num(y + 4)
      << "\" font-size=\"11\">" << xml_escape(weight_label(range.lo + (range.hi - range.lo) * t / 4.0)) << "</text>\n";
  }
  if (any_masked)
    s << "<rect x=\"" << num(legend_x) << "\" y=\"" << num(top + legend_h + 16) << "\" width=\"16\" height=\"16\" "
      << "fill=\"url(#hatch)\" stroke=\"#555\"/><text x=\"" << num(legend_x + 22) << "\" y=\""
      << num(top + legend_h + 28) << "\" font-size=\"11\">masked</text>\n";
  s << "</g>\n";
  s << "<text class=\"scale-note\" x=\"12\" y=\"" << num(height - 12 - (p.note.empty() ? 0 : 22))
    << "\" font-size=\"11\" fill=\"#333\">" << xml_escape(scale_line) << "</text>\n";
  if (!p.note.empty())
    s << "<text class=\"note\" x=\"12\" y=\"" << num(height - 12) << "\" font-size=\"12\" fill=\"#333\">"
      << xml_escape(p.note) << "</text>\n";
  s << "</svg>\n";
  return s.str();
}

}  // namespace attnlab
