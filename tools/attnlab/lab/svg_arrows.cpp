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

const char* colour_of(const Arrow& a) {
  return a.q == a.k ? kSelf : (a.k > a.q ? kForward : kBackward);
}
const char* marker_of(const Arrow& a) {
  return a.q == a.k ? "self" : (a.k > a.q ? "fwd" : "bwd");
}

void open_svg(std::ostringstream& s, const AttentionPicture& p, double width, double height) {
  s << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"attn-arrows\" width=\"" << num(width, 0) << "\" height=\""
    << num(height, 0) << "\" viewBox=\"0 0 " << num(width, 0) << ' ' << num(height, 0)
    << "\" font-family=\"DejaVu Sans, Arial, sans-serif\" data-tokens=\"" << p.n() << "\">\n";
  s << "<title>" << xml_escape("Attention arrows: " + p.title) << "</title>\n<defs>\n";
  for (const auto& [id, colour] : {std::pair{"fwd", kForward}, std::pair{"bwd", kBackward}, std::pair{"self", kSelf}})
    s << "<marker id=\"head-" << id << "\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"9\" "
      << "markerHeight=\"9\" markerUnits=\"userSpaceOnUse\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\""
      << colour << "\"/></marker>\n";
  s << "</defs>\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  s << "<text x=\"12\" y=\"22\" font-size=\"15\" font-weight=\"bold\">" << xml_escape(short_label(p.title, 80))
    << "</text>\n";
}

/// A label's box, to keep labels from overlapping each other and the words.
struct Box {
  double x0, y0, x1, y1;
  bool overlaps(const Box& b) const { return x0 < b.x1 && b.x0 < x1 && y0 < b.y1 && b.y0 < y1; }
};

void arrow_path(std::ostringstream& s, const AttentionPicture& p, const Arrow& a, const std::string& d, double vmax) {
  const double rel = a.w / vmax;
  s << "<path class=\"" << (a.q == a.k ? "arrow self" : "arrow") << "\" data-q=\"" << a.q << "\" data-k=\"" << a.k
    << "\" data-w=\"" << num(a.w, 6) << "\" d=\"" << d << "\" fill=\"none\" stroke=\"" << colour_of(a)
    << "\" stroke-width=\"" << num(0.6 + 7.4 * rel) << "\" opacity=\"" << num(std::clamp(rel, 0.08, 1.0))
    << "\" marker-end=\"url(#head-" << marker_of(a) << ")\"><title>"
    << xml_escape(p.tokens[static_cast<std::size_t>(a.q)] + " \u2192 " + p.tokens[static_cast<std::size_t>(a.k)])
    << ": " << num(a.w, 4) << "</title></path>\n";
}

void legend_and_note(std::ostringstream& s, const AttentionPicture& p, double y, double height, double vmax, int top_k,
                     const char* later, const char* earlier, const char* self) {
  s << "<g class=\"legend\" font-size=\"11\">\n"
    << "<line x1=\"12\" x2=\"40\" y1=\"" << num(y) << "\" y2=\"" << num(y) << "\" stroke=\"" << kForward
    << "\" stroke-width=\"3\"/><text x=\"46\" y=\"" << num(y + 4) << "\">" << later << "</text>\n"
    << "<line x1=\"210\" x2=\"238\" y1=\"" << num(y) << "\" y2=\"" << num(y) << "\" stroke=\"" << kBackward
    << "\" stroke-width=\"3\"/><text x=\"244\" y=\"" << num(y + 4) << "\">" << earlier << "</text>\n"
    << "<text x=\"12\" y=\"" << num(y + 22) << "\">" << self
    << "; width and opacity \u221d weight, the widest = " << xml_escape(weight_label(vmax)) << "</text>\n";
  if (top_k > 0)
    s << "<text class=\"thinned\" x=\"12\" y=\"" << num(y + 38) << "\">only each word's " << top_k
      << " strongest of its " << p.n() << " arrows are drawn (k = " << top_k << ", --top-k to change)</text>\n";
  s << "</g>\n";
  if (!p.note.empty())
    s << "<text class=\"note\" x=\"12\" y=\"" << num(height - 10) << "\" font-size=\"12\" fill=\"#333\">"
      << xml_escape(p.note) << "</text>\n";
  s << "</svg>\n";
}

/// Wide enough for the title (15 px bold) and the note (12 px).
double text_width(const AttentionPicture& p) {
  return std::max(static_cast<double>(chars(short_label(p.title, 80))) * 9.5,
                  static_cast<double>(chars(p.note)) * 7.0) +
         24;
}

std::vector<std::string> labels_of(const AttentionPicture& p, std::size_t max_chars, std::size_t& longest) {
  std::vector<std::string> labels;
  longest = 1;
  for (const auto& t : p.tokens) {
    labels.push_back(short_label(t, max_chars));
    longest = std::max(longest, chars(labels.back()));
  }
  return labels;
}

/// Words in a row; arcs above to later words, below to earlier ones; loops for self.
std::string row_layout(const AttentionPicture& p, const std::vector<Arrow>& arrows, int top_k) {
  const int n = p.n();
  const double vmax = p.scale().hi;
  const double font = 14;
  std::size_t longest = 1;
  const auto labels = labels_of(p, 14, longest);
  const double step = std::clamp(static_cast<double>(longest) * font * 0.62 + 40, 110.0, 180.0);
  const double arc_h_unit = 0.4 * step, max_arc = 260.0;
  const double width = std::max({80 + step * (n - 1), 420.0, text_width(p)});
  // Room above for arcs to later words and loops, below for arcs to earlier words: only as much as used.
  double above = 0, below = 0;
  for (const Arrow& a : arrows) {
    const double h = a.q == a.k ? 24 : std::min(arc_h_unit * std::abs(a.k - a.q) + 20, max_arc);
    double& room = a.k >= a.q ? above : below;
    room = std::max(room, h);
  }
  const double words_y = 50 + above + 36;  // baseline of the word row
  const double legend_y = words_y + 24 + below + 20;
  const double height = legend_y + 56 + (p.note.empty() ? 0 : 22);
  auto xpos = [&](int i) { return (width - step * (n - 1)) / 2 + step * i; };

  std::ostringstream s;
  open_svg(s, p, width, height);
  const double top_y = words_y - font - 4, bottom_y = words_y + 8;
  // Where each arrow's label could go: points along its curve, the middle first.
  struct Candidates {
    Arrow a;
    std::vector<std::pair<double, double>> at;
  };
  std::vector<Candidates> labelled;
  for (const Arrow& a : arrows) {
    const double x1 = xpos(a.q), x2 = xpos(a.k);
    std::string d;
    Candidates c{a, {}};
    if (a.q == a.k) {  // a loop above the word
      d = "M" + num(x1 - 5) + "," + num(top_y) + " C" + num(x1 - 30) + "," + num(top_y - 48) + " " + num(x1 + 30) +
          "," + num(top_y - 48) + " " + num(x1 + 5) + "," + num(top_y);
      c.at = {{x1, top_y - 40}};
    } else {
      const bool fwd = a.k > a.q;
      const double h = std::min(arc_h_unit * std::abs(a.k - a.q) + 20, max_arc);
      const double y = fwd ? top_y : bottom_y, cy = fwd ? y - 2 * h : y + 2 * h;
      // Leave beside the source word, arrive beside the key word, nearer sources landing closer in, so
      // heads that meet at one word stay apart.
      const double dir = fwd ? 1 : -1, dist = std::abs(a.k - a.q);
      const double start = x1 + dir * 12, end = x2 - dir * std::min(10 + 6 * (dist - 1), step * 0.4);
      d = "M" + num(start) + "," + num(y) + " Q" + num((start + end) / 2) + "," + num(cy) + " " + num(end) + "," +
          num(y);
      for (double t : {0.5, 0.38, 0.62, 0.26, 0.74}) {  // points of the quadratic Bézier
        const double bx = (1 - t) * (1 - t) * start + 2 * (1 - t) * t * (start + end) / 2 + t * t * end;
        const double by = (1 - t) * (1 - t) * y + 2 * (1 - t) * t * cy + t * t * y;
        c.at.emplace_back(bx, by + (fwd ? -3 : 12));
      }
    }
    arrow_path(s, p, a, d, vmax);
    labelled.push_back(std::move(c));
  }
  // Heavier arrows choose first; a label that fits nowhere is left out (the arrow's tooltip has it).
  std::stable_sort(labelled.begin(), labelled.end(),
                   [](const Candidates& x, const Candidates& y) { return x.a.w > y.a.w; });
  std::vector<Box> taken;
  for (int i = 0; i < n; ++i) {
    const double half = static_cast<double>(chars(labels[static_cast<std::size_t>(i)])) * font * 0.31 + 2;
    taken.push_back({xpos(i) - half, words_y - font, xpos(i) + half, words_y + 4});
  }
  std::ostringstream weight_labels;
  for (const Candidates& c : labelled) {
    const std::string text = weight_label(c.a.w);
    const double half = static_cast<double>(text.size()) * 11 * 0.31 + 2;
    for (const auto& [lx, ly] : c.at) {
      const Box b{lx - half, ly - 10, lx + half, ly + 3};
      if (std::any_of(taken.begin(), taken.end(), [&](const Box& t) { return t.overlaps(b); })) continue;
      taken.push_back(b);
      weight_labels << "<text class=\"wlabel\" data-q=\"" << c.a.q << "\" data-k=\"" << c.a.k << "\" x=\"" << num(lx)
                    << "\" y=\"" << num(ly) << "\" font-size=\"11\" text-anchor=\"middle\" fill=\"" << colour_of(c.a)
                    << "\" stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\" pointer-events=\"none\">"
                    << xml_escape(text) << "</text>\n";
      break;
    }
  }
  s << weight_labels.str();
  for (int i = 0; i < n; ++i)
    s << "<text class=\"word\" data-q=\"" << i << "\" x=\"" << num(xpos(i)) << "\" y=\"" << num(words_y)
      << "\" font-size=\"" << num(font) << "\" font-weight=\"bold\" text-anchor=\"middle\">" << xml_escape(labels[i])
      << "<title>" << xml_escape(p.tokens[i]) << "</title></text>\n";
  legend_and_note(s, p, legend_y, height, vmax, top_k, "to a later word (above)", "to an earlier word (below)",
                  "loop: to itself");
  return s.str();
}

/// Two columns, BertViz style: queries on the left, keys on the right.
std::string column_layout(const AttentionPicture& p, const std::vector<Arrow>& arrows, int top_k) {
  const int n = p.n();
  const double vmax = p.scale().hi;
  const double font = 11, line = 17;
  std::size_t longest = 1;
  const auto labels = labels_of(p, 18, longest);
  const double label_w = static_cast<double>(longest) * font * 0.62;
  const double left_x = 20 + label_w, right_x = left_x + 300;  // text ends / starts here
  const double top = 66, width = std::max({right_x + label_w + 30, 420.0, text_width(p)});
  const double legend_y = top + line * n + 20;
  const double height = legend_y + 56 + (p.note.empty() ? 0 : 22);
  auto ypos = [&](int i) { return top + line * i; };

  std::ostringstream s;
  open_svg(s, p, width, height);
  s << "<text x=\"" << num(left_x) << "\" y=\"48\" font-size=\"12\" text-anchor=\"end\" fill=\"#333\">query</text>\n"
    << "<text x=\"" << num(right_x) << "\" y=\"48\" font-size=\"12\" fill=\"#333\">key</text>\n";
  for (const Arrow& a : arrows) {
    const double y1 = ypos(a.q) - 4, y2 = ypos(a.k) - 4;
    const double x1 = left_x + 6, x2 = right_x - 6;
    const std::string d = "M" + num(x1) + "," + num(y1) + " C" + num(x1 + 110) + "," + num(y1) + " " + num(x2 - 110) +
                          "," + num(y2) + " " + num(x2) + "," + num(y2);
    arrow_path(s, p, a, d, vmax);
  }
  for (int i = 0; i < n; ++i) {
    s << "<text class=\"word\" data-q=\"" << i << "\" x=\"" << num(left_x) << "\" y=\"" << num(ypos(i))
      << "\" font-size=\"" << num(font) << "\" text-anchor=\"end\">" << xml_escape(labels[i]) << "<title>"
      << xml_escape(p.tokens[i]) << "</title></text>\n";
    s << "<text class=\"kword\" data-k=\"" << i << "\" x=\"" << num(right_x) << "\" y=\"" << num(ypos(i))
      << "\" font-size=\"" << num(font) << "\">" << xml_escape(labels[i]) << "<title>" << xml_escape(p.tokens[i])
      << "</title></text>\n";
  }
  legend_and_note(s, p, legend_y, height, vmax, top_k, "to a later word (down)", "to an earlier word (up)",
                  "grey: to itself");
  return s.str();
}

}  // namespace

int effective_top_k(const AttentionPicture& p, const ArrowOptions& o) {
  if (o.top_k >= 0) return o.top_k;
  return p.n() >= kThinArrowsFrom ? kThinnedArrows : 0;
}

std::vector<Arrow> chosen_arrows(const AttentionPicture& p, const ArrowOptions& o) {
  const int top_k = effective_top_k(p, o);
  std::vector<Arrow> out;
  for (int i = 0; i < p.n(); ++i) {
    std::vector<Arrow> row;
    for (int j = 0; j < p.n(); ++j)
      if (!p.is_masked(i, j) && p.w(i, j) >= o.min_weight && p.w(i, j) > 0) row.push_back({i, j, p.w(i, j)});
    if (top_k > 0 && static_cast<int>(row.size()) > top_k) {
      std::stable_sort(row.begin(), row.end(), [](const Arrow& a, const Arrow& b) { return a.w > b.w; });
      row.resize(static_cast<std::size_t>(top_k));
      std::sort(row.begin(), row.end(), [](const Arrow& a, const Arrow& b) { return a.k < b.k; });
    }
    out.insert(out.end(), row.begin(), row.end());
  }
  return out;
}

std::string svg_arrows(const AttentionPicture& p, const ArrowOptions& o) {
  const std::vector<Arrow> arrows = chosen_arrows(p, o);
  const int k = effective_top_k(p, o);
  return p.n() <= kRowLayoutTokens ? row_layout(p, arrows, k) : column_layout(p, arrows, k);
}

}  // namespace attnlab
