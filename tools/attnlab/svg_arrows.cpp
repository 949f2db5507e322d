#include "svg_arrows.hpp"

#include "markup.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace attnlab {

namespace {

// Okabe-Ito colours: distinguishable with every common colour-vision deficiency.
constexpr const char* kForward = "#0072B2";   // towards a later word
constexpr const char* kBackward = "#D55E00";  // towards an earlier word
constexpr const char* kSelf = "#333333";

std::size_t chars(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

}  // namespace

std::vector<Arrow> chosen_arrows(const AttentionPicture& p, const ArrowOptions& o) {
  std::vector<Arrow> out;
  for (int i = 0; i < p.n(); ++i) {
    std::vector<Arrow> row;
    for (int j = 0; j < p.n(); ++j)
      if (!p.is_masked(i, j) && p.w(i, j) >= o.min_weight && p.w(i, j) > 0) row.push_back({i, j, p.w(i, j)});
    if (o.top_k > 0 && static_cast<int>(row.size()) > o.top_k) {
      std::stable_sort(row.begin(), row.end(), [](const Arrow& a, const Arrow& b) { return a.w > b.w; });
      row.resize(static_cast<std::size_t>(o.top_k));
      std::sort(row.begin(), row.end(), [](const Arrow& a, const Arrow& b) { return a.k < b.k; });
    }
    out.insert(out.end(), row.begin(), row.end());
  }
  return out;
}

std::string svg_arrows(const AttentionPicture& p, const ArrowOptions& o) {
  const int n = p.n();
  const double vmax = p.scale_max();
  const double font = n <= 16 ? 14 : 11;
  std::vector<std::string> labels;
  std::size_t longest = 1;
  for (const auto& t : p.tokens) {
    labels.push_back(short_label(t, 14));
    longest = std::max(longest, chars(labels.back()));
  }
  const double step = std::clamp(static_cast<double>(longest) * font * 0.62 + 40, n <= 16 ? 110.0 : 44.0, 180.0);
  const double max_arc = std::min(0.4 * step * (n - 1) + 20, 260.0);
  const double arc_h_unit = 0.4 * step;
  const double margin = 40;
  const double width = std::max(margin * 2 + step * (n - 1), 420.0);
  // Room above for arcs to later words and loops, below for arcs to earlier words: only as much as used.
  const std::vector<Arrow> arrows = chosen_arrows(p, o);
  double above = 0, below = 0;
  for (const Arrow& a : arrows) {
    const double h = a.q == a.k ? 24 : std::min(arc_h_unit * std::abs(a.k - a.q) + 20, max_arc);
    (a.k >= a.q ? above : below) = std::max(a.k >= a.q ? above : below, h);
  }
  const double words_y = 50 + above + 36;  // baseline of the word row
  const double legend_y = words_y + 24 + below + 20;
  const double height = legend_y + 40 + (p.note.empty() ? 0 : 22);
  const bool labels_fit = step >= 56 && n <= 16;
  auto xpos = [&](int i) { return (width - step * (n - 1)) / 2 + step * i; };

  std::ostringstream s;
  s << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"attn-arrows\" width=\"" << num(width, 0) << "\" height=\""
    << num(height, 0) << "\" viewBox=\"0 0 " << num(width, 0) << ' ' << num(height, 0)
    << "\" font-family=\"DejaVu Sans, Arial, sans-serif\" data-tokens=\"" << n << "\">\n";
  s << "<title>" << xml_escape("Attention arrows: " + p.title) << "</title>\n<defs>\n";
  for (const auto& [id, colour] : {std::pair{"fwd", kForward}, std::pair{"bwd", kBackward}, std::pair{"self", kSelf}})
    s << "<marker id=\"head-" << id << "\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"9\" "
      << "markerHeight=\"9\" markerUnits=\"userSpaceOnUse\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\""
      << colour << "\"/></marker>\n";
  s << "</defs>\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  s << "<text x=\"12\" y=\"22\" font-size=\"15\" font-weight=\"bold\">" << xml_escape(p.title) << "</text>\n";

  const double top_y = words_y - font - 4, bottom_y = words_y + 8;
  std::ostringstream labels_svg;
  for (const Arrow& a : arrows) {
    const double rel = a.w / vmax;
    const double sw = 0.6 + 7.4 * rel, op = std::clamp(rel, 0.08, 1.0);
    const double x1 = xpos(a.q), x2 = xpos(a.k);
    std::string d, cls = "arrow", colour, marker;
    double lx = 0, ly = 0;
    if (a.q == a.k) {  // a loop above the word
      cls = "arrow self", colour = kSelf, marker = "self";
      d = "M" + num(x1 - 5) + "," + num(top_y) + " C" + num(x1 - 30) + "," + num(top_y - 48) + " " + num(x1 + 30) + "," +
          num(top_y - 48) + " " + num(x1 + 5) + "," + num(top_y);
      lx = x1, ly = top_y - 40;
    } else {
      const bool fwd = a.k > a.q;
      const double h = std::min(arc_h_unit * std::abs(a.k - a.q) + 20, max_arc);
      const double y = fwd ? top_y : bottom_y, cy = fwd ? y - 2 * h : y + 2 * h;
      // Leave beside the source word, arrive beside the key word, nearer sources landing closer in, so
      // heads that meet at one word stay apart.
      const double dir = fwd ? 1 : -1, dist = std::abs(a.k - a.q);
      const double start = x1 + dir * 12, end = x2 - dir * std::min(10 + 6 * (dist - 1), step * 0.4);
      colour = fwd ? kForward : kBackward, marker = fwd ? "fwd" : "bwd";
      d = "M" + num(start) + "," + num(y) + " Q" + num((start + end) / 2) + "," + num(cy) + " " + num(end) + "," +
          num(y);
      lx = (x1 + x2) / 2, ly = (y + cy) / 2 + (fwd ? -3 : 12);
    }
    s << "<path class=\"" << cls << "\" data-q=\"" << a.q << "\" data-k=\"" << a.k << "\" data-w=\"" << num(a.w, 6)
      << "\" d=\"" << d << "\" fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"" << num(sw)
      << "\" opacity=\"" << num(op) << "\" marker-end=\"url(#head-" << marker << ")\"><title>"
      << xml_escape(p.tokens[a.q] + " \u2192 " + p.tokens[a.k]) << ": " << num(a.w, 4) << "</title></path>\n";
    if (labels_fit && a.w >= 0.1)
      labels_svg << "<text class=\"wlabel\" data-q=\"" << a.q << "\" x=\"" << num(lx) << "\" y=\"" << num(ly)
                 << "\" font-size=\"11\" text-anchor=\"middle\" fill=\"" << colour
                 << "\" stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\" pointer-events=\"none\">"
                 << num(a.w, 2) << "</text>\n";
  }
  s << labels_svg.str();
  for (int i = 0; i < n; ++i)
    s << "<text class=\"word\" data-q=\"" << i << "\" x=\"" << num(xpos(i)) << "\" y=\"" << num(words_y)
      << "\" font-size=\"" << num(font) << "\" font-weight=\"bold\" text-anchor=\"middle\">" << xml_escape(labels[i])
      << "<title>" << xml_escape(p.tokens[i]) << "</title></text>\n";
  s << "<g class=\"legend\" font-size=\"11\">\n"
    << "<line x1=\"12\" x2=\"40\" y1=\"" << num(legend_y) << "\" y2=\"" << num(legend_y) << "\" stroke=\"" << kForward
    << "\" stroke-width=\"3\"/><text x=\"46\" y=\"" << num(legend_y + 4) << "\">to a later word (above)</text>\n"
    << "<line x1=\"210\" x2=\"238\" y1=\"" << num(legend_y) << "\" y2=\"" << num(legend_y) << "\" stroke=\""
    << kBackward << "\" stroke-width=\"3\"/><text x=\"244\" y=\"" << num(legend_y + 4)
    << "\">to an earlier word (below)</text>\n"
    << "<text x=\"12\" y=\"" << num(legend_y + 22) << "\">loop: to itself; width and opacity \u221d weight"
    << (vmax < 1 ? " (relative to the largest, " + num(vmax, 3) + ")" : std::string()) << "</text>\n</g>\n";
  if (!p.note.empty())
    s << "<text class=\"note\" x=\"12\" y=\"" << num(height - 10) << "\" font-size=\"12\" fill=\"#333\">"
      << xml_escape(p.note) << "</text>\n";
  s << "</svg>\n";
  return s.str();
}

}  // namespace attnlab
