#include "html_report.hpp"

#include "colormap.hpp"
#include "lab_picture.hpp"
#include "lab_worked_cell.hpp"
#include "markup.hpp"
#include "svg_heatmap.hpp"
#include "table.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace attnlab {

namespace {

using lab::Matrix;

std::string esc(const std::string& s) {
  return xml_escape(s);
}

/// The SVG without its XML declaration, ready to sit inside HTML.
std::string inline_svg(const std::string& svg) {
  const auto start = svg.find("<svg");
  return start == std::string::npos ? svg : svg.substr(start);
}

enum class Shade { none, weights, signed_diff };

/// Cell background for a shaded table, with a text colour that stays readable on it.
std::string cell_style(double v, Shade shade, double lo, double hi) {
  if (shade == Shade::none || !std::isfinite(v)) return "";
  Rgb c;
  if (shade == Shade::weights) {
    c = weight_colour(hi > lo ? (v - lo) / (hi - lo) : 0.5);
  } else {
    c = difference_colour(hi > 0 ? v / hi : 0);
  }
  return " style=\"background:" + c.hex() + ";color:" + (c.wants_light_text() ? "#fff" : "#000") + "\"";
}

using Extra = std::vector<std::pair<std::string, std::vector<double>>>;

struct TableSpec {
  TableSpec(std::string id_, std::string caption_, std::string corner_, std::vector<std::string> rows_,
            std::vector<std::string> cols_, const Matrix* m_, const lab::Config* mask_ = nullptr, Extra extra_ = {},
            Shade shade_ = Shade::none, bool sign_ = false)
      : id(std::move(id_)),
        caption(std::move(caption_)),
        corner(std::move(corner_)),
        rows(std::move(rows_)),
        cols(std::move(cols_)),
        m(m_),
        mask(mask_),
        extra(std::move(extra_)),
        shade(shade_),
        sign(sign_) {}
  std::string id, caption, corner;  ///< the caption is HTML
  std::vector<std::string> rows, cols;
  const Matrix* m;
  const lab::Config* mask;  ///< square tables: masked cells show "·"
  Extra extra;              ///< extra columns (row max, row sum)
  Shade shade;
  bool sign;  ///< print "+" before positive values
};

std::string table_html(const TableSpec& t, int digits) {
  const Matrix& m = *t.m;
  const bool square = t.mask != nullptr;
  const int rows = square ? m.rows : std::min(m.rows, lab::kShownCells);
  const int cols = square ? m.cols : std::min(m.cols, lab::kShownCells);
  double lo = std::numeric_limits<double>::infinity(), hi = 0;
  for (int i = 0; i < m.rows; ++i)
    for (int j = 0; j < m.cols; ++j) {
      if (square && lab::masked(*t.mask, i, j)) continue;
      const double v = m.at(i, j);
      if (t.shade == Shade::signed_diff) {
        hi = std::max(hi, std::abs(v));
      } else {
        lo = std::min(lo, v), hi = std::max(hi, v);
      }
    }
  std::ostringstream s;
  s << "<div class=\"step\"" << (t.id.empty() ? "" : " id=\"" + t.id + "\"") << "><div class=\"caption\">" << t.caption;
  if (rows < m.rows || cols < m.cols)
    s << " <span class=\"cut\">(the first "
      << (rows < m.rows ? std::to_string(rows) + " of " + std::to_string(m.rows) + " rows and " : "") << cols << " of "
      << m.cols << " columns; --json has all)</span>";
  if (t.shade == Shade::weights)
    s << " <span class=\"range\">shading: " << fixed(lo, digits) << " (light) to " << fixed(hi, digits)
      << " (dark)</span>";
  if (t.shade == Shade::signed_diff)
    s << " <span class=\"range\">orange: computed above your guess, blue: below; strongest at \u00b1"
      << fixed(hi, digits) << "</span>";
  s << "</div>\n<div class=\"scroll\"><table class=\"m\"><thead><tr><th>" << esc(t.corner) << "</th>";
  for (int j = 0; j < cols; ++j) s << "<th>" << esc(t.cols[static_cast<std::size_t>(j)]) << "</th>";
  for (const auto& e : t.extra) s << "<th class=\"extra\">" << esc(e.first) << "</th>";
  s << "</tr></thead><tbody>\n";
  for (int i = 0; i < rows; ++i) {
    s << "<tr><th>" << esc(t.rows[static_cast<std::size_t>(i)]) << "</th>";
    for (int j = 0; j < cols; ++j) {
      if (square && lab::masked(*t.mask, i, j) && !(t.sign && m.at(i, j) != 0)) {
        s << "<td class=\"masked\" title=\"masked: a later word\">\u00b7</td>";
        continue;
      }
      const double v = m.at(i, j);
      const bool flagged = square && lab::masked(*t.mask, i, j);  // a guess on a hidden key
      s << "<td" << (flagged ? " class=\"flag\" title=\"the mask hides this key: the model puts 0 here\"" : "")
        << cell_style(v, t.shade, lo, hi) << ">" << (t.sign && v >= 0 ? "+" : "") << fixed(v, digits)
        << (flagged ? " !" : "") << "</td>";
    }
    for (const auto& e : t.extra)
      s << "<td class=\"extra\">" << fixed(e.second[static_cast<std::size_t>(i)], digits) << "</td>";
    s << "</tr>\n";
  }
  s << "</tbody></table></div></div>\n";
  return s.str();
}

std::string word(const lab::Sentence& s, int i) {
  return "<b>" + esc(s.tokens[static_cast<std::size_t>(i)]) + "</b>";
}

std::string tops(const lab::Sentence& s, int top, const std::vector<int>& ties) {
  std::string out = word(s, top);
  for (int t : ties) out += ", " + word(s, t);
  return ties.empty() ? out : out + " (tie)";
}

std::string reflection_html(const lab::Sentence& s, const Matrix& w, const lab::Reflection& r, const lab::Config& c,
                            int digits) {
  std::ostringstream o;
  o << "<div class=\"reflection\"><div class=\"caption\">Reflection: where each word looks</div>\n"
    << "<div class=\"scroll\"><table class=\"m\"><thead><tr><th>query</th><th>top key</th><th>its weight</th><th>self "
       "weight</th><th>entropy (bits)</th><th>uniform would be</th></tr></thead><tbody>\n";
  for (std::size_t i = 0; i < r.words.size(); ++i) {
    const auto& f = r.words[i];
    o << "<tr><th>" << esc(s.tokens[i]) << "</th><td class=\"word\">" << tops(s, f.top_key, f.tied_keys) << "</td><td>"
      << fixed(f.top_weight, digits) << "</td><td>" << fixed(f.self_weight, digits) << "</td><td>"
      << fixed(f.entropy_bits, digits) << "</td><td>" << fixed(f.max_entropy_bits, digits) << "</td></tr>\n";
  }
  o << "</tbody></table></div><ul class=\"answers\">\n<li><span class=\"q\">Which words focus on each other?</span> ";
  if (r.mutual.empty()) o << "No pair: no two words are each other's top key.";
  for (std::size_t m = 0; m < r.mutual.size(); ++m)
    o << (m ? ", " : "") << word(s, r.mutual[m].first) << " \u2194 " << word(s, r.mutual[m].second);
  if (!r.mutual.empty()) o << " (each is the other's top key).";
  o << "</li>\n";
  for (std::size_t i = 0; i < r.words.size(); ++i)
    if (!r.words[i].tied_keys.empty())
      o << "<li class=\"tie\"><span class=\"q\">Tie.</span> " << word(s, static_cast<int>(i)) << " gives "
        << tops(s, r.words[i].top_key, r.words[i].tied_keys) << " the same weight ("
        << fixed(r.words[i].top_weight, digits) << "): the tie is said, not broken.</li>\n";
  const auto& out = r.words[static_cast<std::size_t>(r.most_outward)];
  o << "<li><span class=\"q\">Focuses most on others:</span> " << word(s, r.most_outward) << " ("
    << fixed(1 - out.self_weight, digits) << " of its attention goes to other words).</li>\n";
  o << "<li><span class=\"q\">Self-attention:</span> ";
  int self_top = 0;
  for (std::size_t i = 0; i < r.words.size(); ++i) self_top += r.words[i].top_key == static_cast<int>(i);
  o << self_top << " of " << r.words.size() << " words attend most to themselves.</li>\n";
  double mean_h = 0, mean_max = 0;
  for (const auto& f : r.words) mean_h += f.entropy_bits, mean_max += f.max_entropy_bits;
  o << "<li><span class=\"q\">Entropy:</span> on average "
    << fixed(mean_h / static_cast<double>(r.words.size()), digits) << " bits of a possible "
    << fixed(mean_max / static_cast<double>(r.words.size()), digits)
    << " (0 = all attention on one word; the maximum = spread evenly).</li>\n";
  o << "<li><span class=\"q\">Symmetric?</span> ";
  if (r.symmetry_pairs > 0)
    o << "max |W \u2212 W\u1d40| = " << fixed(r.symmetry_max, digits) << ", between " << word(s, r.asym_i) << " \u2192 "
      << word(s, r.asym_j) << " (" << fixed(w.at(r.asym_i, r.asym_j), digits) << ") and " << word(s, r.asym_j)
      << " \u2192 " << word(s, r.asym_i) << " (" << fixed(w.at(r.asym_j, r.asym_i), digits)
      << "): " << (r.symmetry_max < 1e-6 ? "symmetric here." : "attention is not symmetric.");
  else if (c.causal && s.tokens.size() > 1)
    o << "cannot be compared under the causal mask: of W[i][j] and W[j][i] one is always hidden.";
  else
    o << "one word only.";
  o << "</li>\n</ul></div>\n";
  return o.str();
}

/// The weights among the words two sentences share, before and after, with the change and the ratio.
std::string shared_html(const lab::Comparison& cmp, const lab::Session& ses, int digits) {
  const lab::Config& c = ses.config;
  const auto& sa = ses.sentences[static_cast<std::size_t>(cmp.a)];
  const auto& sb = ses.sentences[static_cast<std::size_t>(cmp.b)];
  std::ostringstream h;
  h << "<div class=\"shared\"><div class=\"caption\">What changed: the words \u201c" << esc(sa.text)
    << "\u201d and \u201c" << esc(sb.text) << "\u201d share"
    << (c.heads > 1 ? ", head " + std::to_string(cmp.head + 1) : "") << "</div>\n";
  if (cmp.shared.empty()) return h.str() + "<p>No word in common.</p></div>\n";
  h << "<div class=\"scroll\"><table class=\"m\"><thead><tr><th>from</th><th>to</th><th>weight in " << cmp.a + 1
    << "</th><th>weight in " << cmp.b + 1 << "</th><th>change</th><th>ratio</th></tr></thead><tbody>\n";
  for (const auto& p : cmp.pairs)
    h << "<tr><th>" << esc(p.from) << "</th><th>" << esc(p.to) << "</th><td>" << fixed(p.first, digits) << "</td><td>"
      << fixed(p.second, digits) << "</td><td>" << (p.second >= p.first ? "+" : "") << fixed(p.second - p.first, digits)
      << "</td><td>" << (p.first > 0 ? fixed(p.second / p.first, digits) : std::string("-")) << "</td></tr>\n";
  h << "</tbody></table></div>\n";
  if (!c.positional && !c.causal)
    h << "<p>Without position encodings a word scores each shared word the same in both sentences; only the "
         "softmax's denominator changes, so within one \u201cfrom\u201d word every ratio is the same.</p>\n";
  return h.str() + "</div>\n";
}

constexpr const char* kStyle = R"CSS(
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 1.2em auto; max-width: 1200px; padding: 0 1em; color: #111;
       background: #fff; line-height: 1.35; }
h1 { font-size: 1.45em; margin: 0 0 .3em; }
h2 { font-size: 1.25em; margin: 1.6em 0 .4em; border-bottom: 2px solid #ccc; padding-bottom: .15em; }
h3 { font-size: 1.08em; margin: 1.2em 0 .3em; }
nav { background: #f4f4f4; border: 1px solid #ddd; padding: .4em .8em; margin: .8em 0; }
nav a { margin-right: 1em; white-space: nowrap; }
.summary { color: #333; }
.steps { display: flex; flex-wrap: wrap; gap: .6em 1.6em; align-items: flex-start; }
.step, .reflection { margin: .4em 0; max-width: 100%; }
.caption { font-size: .92em; color: #222; margin: .2em 0; }
.caption .range, .caption .cut { color: #555; font-size: .92em; }
.scroll { overflow-x: auto; max-width: 100%; }
table.m { border-collapse: collapse; font-size: .85em; font-variant-numeric: tabular-nums; }
table.m th, table.m td { border: 1px solid #ccc; padding: .12em .4em; text-align: right; white-space: nowrap; }
table.m thead th { background: #f0f0f0; }
table.m tbody th { background: #f7f7f7; text-align: left; }
table.m td.word { text-align: left; }
table.m td.extra, table.m th.extra { background: #fafae8; color: #111; }
table.m td.masked { color: #888; background: #e8e8e8; text-align: center; }
table.m td.flag { outline: 2px solid #c00000; outline-offset: -2px; font-weight: bold; }
pre.worked { background: #f8f8f8; border: 1px solid #ddd; padding: .5em .8em; overflow-x: auto; font-size: .85em; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; margin: .5em 0; }
.figures > div { overflow-x: auto; max-width: 100%; border: 1px solid #ddd; }
.figures svg { max-width: 100%; height: auto; }
ul.answers { margin: .4em 0; padding-left: 1.2em; }
ul.answers .q { font-weight: bold; }
.controls { margin: .6em 0; display: flex; gap: 1em; align-items: center; flex-wrap: wrap; }
.controls label { max-width: 100%; }
select { font-size: .95em; padding: .1em .2em; max-width: 100%; }
#compare-view { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 1em; }
#compare-view > div { min-width: 0; border: 1px solid #ddd; padding: .4em; }
#compare-view .figures { flex-direction: column; }
.score { font-weight: bold; }
.flags { color: #a00000; }
[data-q] { cursor: pointer; }
.dim { opacity: .12; }
rect.cell.hl { stroke: #000; stroke-width: 2.5px; }
text.hl { fill: #c00000; text-decoration: underline; }
.hint { color: #555; font-size: .9em; }
@media print {
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { margin: 0; max-width: none; font-size: 9pt; }
  nav, .controls, .hint { display: none; }
  section.sentence, #predictions, #compare { break-before: page; }
  .step, .reflection, .figures > div, pre.worked { break-inside: avoid; }
  .scroll { overflow: visible; }
  table.m { font-size: 7.5pt; }
  .figures svg { max-height: 9in; }
}
)CSS";

constexpr const char* kScript = R"JS(
(function () {
  "use strict";
  // Hovering a word highlights its row of the heatmap and its arrows, within the same figures.
  function wire(root) {
    root.querySelectorAll(".figures [data-q]").forEach(function (el) {
      var fig = el.closest(".figures");
      el.addEventListener("mouseenter", function () { highlight(fig, el.getAttribute("data-q")); });
      el.addEventListener("mouseleave", function () {
        fig.querySelectorAll("[data-q]").forEach(function (x) { x.classList.remove("hl", "dim"); });
      });
    });
  }
  function highlight(fig, q) {
    fig.querySelectorAll("[data-q]").forEach(function (el) {
      var same = el.getAttribute("data-q") === q;
      var isWord = el.classList.contains("word") || el.classList.contains("qlabel");
      el.classList.toggle("hl", same);
      el.classList.toggle("dim", !same && !isWord);
    });
  }
  var a = document.getElementById("compare-a"), b = document.getElementById("compare-b");
  var h = document.getElementById("compare-head");
  function fill(side, s, head) {
    var box = document.getElementById("compare-" + side + "-view");
    var src = document.getElementById("s" + s + "-h" + head);
    box.innerHTML = "";
    var title = document.createElement("div");
    title.className = "caption";
    title.textContent = "Sentence " + s + ", head " + head + ": " + src.getAttribute("data-text");
    box.appendChild(title);
    box.appendChild(src.querySelector(".figures").cloneNode(true));
    box.appendChild(src.querySelector(".reflection").cloneNode(true));
  }
  function show() {
    fill("a", a.value, h.value);
    fill("b", b.value, h.value);
    var lo = Math.min(Number(a.value), Number(b.value)), hi = Math.max(Number(a.value), Number(b.value));
    var shared = document.getElementById("compare-shared");
    var t = document.getElementById("shared-" + lo + "-" + hi + "-" + h.value);
    shared.innerHTML = "";
    if (t) shared.appendChild(t.content.cloneNode(true));
    else shared.textContent = "The same sentence on both sides.";
    wire(document.getElementById("compare-view"));
    document.body.setAttribute("data-compare", a.value + "," + b.value + "," + h.value);
  }
  if (a && b && h) {
    var m = /compare=(\d+),(\d+),(\d+)/.exec(location.hash);
    if (m) {
      if (a.querySelector('option[value="' + m[1] + '"]')) a.value = m[1];
      if (b.querySelector('option[value="' + m[2] + '"]')) b.value = m[2];
      if (h.querySelector('option[value="' + m[3] + '"]')) h.value = m[3];
    }
    [a, b, h].forEach(function (sel) { sel.addEventListener("change", show); });
    show();
  }
  wire(document.querySelector("main"));
  document.body.setAttribute("data-ready", "1");
})();
)JS";

std::string options(const std::vector<std::string>& labels, int selected) {
  std::string s;
  for (std::size_t i = 0; i < labels.size(); ++i)
    s += "<option value=\"" + std::to_string(i + 1) + "\"" + (static_cast<int>(i) == selected ? " selected" : "") +
         ">" + esc(labels[i]) + "</option>";
  return s;
}

}  // namespace

std::string html_notebook(const lab::Session& ses, const ArrowOptions& arrows, int digits) {
  const lab::Config& c = ses.config;
  const lab::Config unmasked;
  const auto xs = lab::numbered("x", c.dim), qs = lab::numbered("q", c.dk), ks = lab::numbered("k", c.dk),
             vs = lab::numbered("v", c.dv);
  const auto os_cols = lab::numbered("o", c.dv);
  const int S = static_cast<int>(ses.sentences.size());
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    << "<title>attnlab lab: attention, step by step</title>\n<style>" << kStyle << "</style>\n</head>\n"
    << "<body data-ready=\"0\">\n<main>\n<h1>The attention lab, step by step</h1>\n";
  h << "<p class=\"summary\">" << S << " sentence(s); d_model = " << c.dim << ", d_k = " << c.dk << ", d_v = " << c.dv
    << ", " << c.heads << " head(s), seed " << c.seed << ", kernel " << esc(ses.kernel)
    << (c.causal ? ", causal mask" : "") << (c.positional ? ", sinusoidal positions" : "")
    << ".<br>Embeddings: " << esc(ses.embeddings) << ".<br>W_Q, W_K, W_V: " << esc(ses.projections) << ".</p>\n";
  h << "<nav><a href=\"#setup\">Setup</a>";
  for (int si = 0; si < S; ++si)
    h << "<a href=\"#s" << si + 1 << "\">" << si + 1 << ": "
      << esc(short_label(ses.sentences[static_cast<std::size_t>(si)].text, 30)) << "</a>";
  if (!ses.predictions.empty()) h << "<a href=\"#predictions\">Predictions</a>";
  h << "<a href=\"#compare\">Side by side</a>";
  if (!ses.comparisons.empty()) h << "<a href=\"#shared\">Shared words</a>";
  h << "</nav>\n";

  h << "<section id=\"setup\"><h2>Setup: the formula and the shared weights</h2>\n"
    << "<p>attention(Q, K, V) = softmax(Q K<sup>T</sup> / \u221ad_k) V, with Q = X W_Q, K = X W_K, V = X W_V. "
       "Each row of the weights is one word (the <i>query</i>) sharing its attention among all words (the "
       "<i>keys</i>); every row adds up to 1.</p>\n";
  if (c.projection == "identity") {
    h << "<p>W_Q = W_K = W_V = the identity: Q = K = V = X, so a score is the dot product of two words' embeddings "
         "over \u221ad_k, and attention follows how similar the words are.</p>\n";
  } else {
    h << "<div class=\"steps\">\n";
    const auto& first = ses.sentences[0];
    for (int hd = 0; hd < c.heads; ++hd) {
      const std::string hn = c.heads > 1 ? " (head " + std::to_string(hd + 1) + ")" : "";
      const lab::Head& H = first.heads[static_cast<std::size_t>(hd)];
      h << table_html({"", "W_Q" + hn + " [d_model \u00d7 d_k]", "", xs, qs, &H.wq}, digits)
        << table_html({"", "W_K" + hn + " [d_model \u00d7 d_k]", "", xs, ks, &H.wk}, digits)
        << table_html({"", "W_V" + hn + " [d_model \u00d7 d_v]", "", xs, vs, &H.wv}, digits);
    }
    h << "</div>\n";
  }
  h << "</section>\n";

  for (int si = 0; si < S; ++si) {
    const lab::Sentence& s = ses.sentences[static_cast<std::size_t>(si)];
    const std::string sid = "s" + std::to_string(si + 1);
    h << "<section class=\"sentence\" id=\"" << sid << "\"><h2>Sentence " << si + 1 << ": \u201c" << esc(s.text)
      << "\u201d</h2>\n<p>tokens (" << s.tokens.size() << "): ";
    for (const auto& t : s.tokens) h << "<code>" << esc(t) << "</code> ";
    h << "</p>\n<div class=\"steps\">\n"
      << table_html(
             {sid + "-x", std::string("X: one embedding per token") + (c.positional ? " (plus position encoding)" : ""),
              "token", s.tokens, xs, &s.x},
             digits)
      << table_html({sid + "-cos",
                     "cos(x<sub>i</sub>, x<sub>j</sub>): how alike two words' embeddings are",
                     "token",
                     s.tokens,
                     s.tokens,
                     &s.cosine,
                     &unmasked,
                     {},
                     Shade::weights},
                    digits)
      << "</div>\n";
    for (int hd = 0; hd < c.heads; ++hd) {
      const lab::Head& H = s.heads[static_cast<std::size_t>(hd)];
      const std::string id = sid + "-h" + std::to_string(hd + 1);
      h << "<section class=\"head\" id=\"" << id << "\" data-text=\"" << esc(s.text) << "\"><h3>Head " << hd + 1
        << " of " << c.heads << "</h3>\n<div class=\"steps\">\n";
      if (c.projection != "identity")
        h << table_html({id + "-q", "Q = X W_Q", "token", s.tokens, qs, &H.q}, digits)
          << table_html({id + "-k", "K = X W_K", "token", s.tokens, ks, &H.k}, digits)
          << table_html({id + "-v", "V = X W_V", "token", s.tokens, vs, &H.v}, digits);
      h << table_html({id + "-scores",
                       "scores = Q K<sup>T</sup> / \u221a" + std::to_string(c.dk) + " (row: query, column: key)",
                       "query \\ key",
                       s.tokens,
                       s.tokens,
                       &H.scores,
                       &c,
                       {{"row max", H.row_max}}},
                      digits)
        << table_html({id + "-exp",
                       "exp(scores \u2212 row max)",
                       "query \\ key",
                       s.tokens,
                       s.tokens,
                       &H.exps,
                       &c,
                       {{"row sum", H.row_sum}}},
                      digits)
        << table_html({id + "-weights",
                       "weights = exp / row sum (the engine's softmax, kernel " + esc(ses.kernel) + ")",
                       "query \\ key",
                       s.tokens,
                       s.tokens,
                       &H.weights,
                       &c,
                       {{"row sum", lab::row_sums(H.weights)}},
                       Shade::weights},
                      digits)
        << table_html({id + "-output", "output = weights \u00b7 V", "token", s.tokens, os_cols, &H.output}, digits)
        << "</div>\n<pre class=\"worked\">";
      for (const auto& line : lab::worked_cell_lines(lab::worked_cell(H, c), s.tokens, digits)) h << esc(line) << "\n";
      h << "</pre>\n";
      const AttentionPicture p = lab::picture_of(s, hd, c);
      h << "<div class=\"figures\"><div class=\"heatmap\">" << inline_svg(svg_heatmap(p))
        << "</div><div class=\"arrows\">" << inline_svg(svg_arrows(p, arrows)) << "</div></div>\n"
        << reflection_html(s, H.weights, ses.reflections[static_cast<std::size_t>(si)][static_cast<std::size_t>(hd)], c,
                           digits)
        << "</section>\n";
    }
    h << "</section>\n";
  }

  if (!ses.predictions.empty()) {
    h << "<section id=\"predictions\"><h2>Your predictions against the computation</h2>\n";
    if (c.causal)
      h << "<p>Under the causal mask a word sees only itself and the words before it: the cells marked \u00b7 are 0 "
           "in every head, and a guess that puts weight there is flagged with a red frame and \u201c!\u201d.</p>\n";
    for (std::size_t pi = 0; pi < ses.predictions.size(); ++pi) {
      const auto& m = ses.matches[pi];
      const lab::Sentence& s = ses.sentences[static_cast<std::size_t>(m.sentence)];
      const int n = static_cast<int>(s.tokens.size());
      h << "<div class=\"prediction\" id=\"p" << pi + 1 << "\"><h3>" << esc(ses.predictions[pi].path)
        << " \u2192 sentence " << m.sentence + 1 << ": \u201c" << esc(s.text) << "\u201d</h3>\n";
      if (m.reordered)
        h << "<p>The file lists the words in another order; they are shown in the sentence's order.</p>\n";
      for (int hd = 0; hd < c.heads; ++hd) {
        const auto& r = ses.reports[pi][static_cast<std::size_t>(hd)];
        const Matrix& w = s.heads[static_cast<std::size_t>(hd)].weights;
        Matrix d(n, n);
        for (int i = 0; i < n; ++i)
          for (int j = 0; j < n; ++j) d.at(i, j) = w.at(i, j) - ses.aligned[pi].weights.at(i, j);
        if (c.heads > 1) h << "<h4>Head " << hd + 1 << "</h4>\n";
        h << "<div class=\"steps\">"
          << table_html({"",
                         "Predicted (yours)",
                         "query \\ key",
                         s.tokens,
                         s.tokens,
                         &ses.aligned[pi].weights,
                         &c,
                         {},
                         Shade::weights},
                        digits)
          << table_html({"", "Computed", "query \\ key", s.tokens, s.tokens, &w, &c, {}, Shade::weights}, digits)
          << table_html({"",
                         "Difference: computed \u2212 predicted",
                         "query \\ key",
                         s.tokens,
                         s.tokens,
                         &d,
                         &c,
                         {},
                         Shade::signed_diff,
                         true},
                        digits)
          << "</div>\n<p class=\"score\">Score: top key right for " << r.agreeing_tops << " of " << n
          << " words; mean |difference| " << fixed(r.mean_abs_diff, digits) << ", largest "
          << fixed(r.max_abs_diff, digits)
          << ".</p>\n<div class=\"scroll\"><table class=\"m\"><thead><tr><th>query</th>"
          << "<th>your top key</th><th>computed top key</th><th>same?</th></tr></thead><tbody>\n";
        for (int i = 0; i < n; ++i) {
          const std::size_t k = static_cast<std::size_t>(i);
          const bool same = r.top_agrees[k] != 0;
          h << "<tr><th>" << esc(s.tokens[k]) << "</th><td class=\"word\">"
            << tops(s, r.predicted_top[k], r.predicted_ties[k]) << "</td><td class=\"word\">"
            << tops(s, r.computed_top[k], r.computed_ties[k]) << "</td><td class=\"word\">" << (same ? "yes" : "no")
            << "</td></tr>\n";
        }
        h << "</tbody></table></div>\n";
        if (!r.on_masked.empty()) {
          h << "<ul class=\"flags\">";
          for (const auto& g : r.on_masked)
            h << "<li>You gave " << word(s, g.query) << " \u2192 " << word(s, g.key) << " " << fixed(g.weight, digits)
              << ", but " << word(s, g.key) << " comes later: the causal mask hides it.</li>";
          h << "</ul>\n";
        }
      }
      h << "</div>\n";
    }
    h << "</section>\n";
  }

  // Side by side: rendered here for sentences 1 and 2 (so that it prints without the script), and
  // redrawn by the script for any pair chosen in the menus.
  std::vector<std::string> labels, heads;
  for (int si = 0; si < S; ++si)
    labels.push_back(std::to_string(si + 1) + ": " + short_label(ses.sentences[static_cast<std::size_t>(si)].text, 48));
  for (int hd = 0; hd < c.heads; ++hd) heads.push_back("head " + std::to_string(hd + 1));
  const int b = S > 1 ? 1 : 0;
  h << "<section id=\"compare\"><h2>Two sentences side by side</h2>\n<div class=\"controls\">"
    << "<label>Left <select id=\"compare-a\">" << options(labels, 0) << "</select></label>"
    << "<label>Right <select id=\"compare-b\">" << options(labels, b) << "</select></label>"
    << "<label>Head <select id=\"compare-head\">" << options(heads, 0) << "</select></label>"
    << "<span class=\"hint\">Hover a word to highlight its row and its arrows.</span></div>\n"
    << "<div id=\"compare-view\"><div id=\"compare-a-view\"></div><div id=\"compare-b-view\"></div></div>\n";
  // What changed between the two sentences shown: every pair's shared-word table is kept in an inert
  // <template>, and the script moves the chosen pair's into #compare-shared.
  const int heads_n = c.heads;
  for (int x = 0; x < S; ++x)
    for (int y = x + 1; y < S; ++y)
      for (int hd = 0; hd < heads_n; ++hd)
        h << "<template id=\"shared-" << x + 1 << "-" << y + 1 << "-" << hd + 1 << "\">"
          << shared_html(lab::compare_shared(ses.sentences, x, y, hd), ses, digits) << "</template>\n";
  h << "<div id=\"compare-shared\">"
    << (S > 1 ? shared_html(lab::compare_shared(ses.sentences, 0, 1, 0), ses, digits) : std::string()) << "</div>\n";
  if (!ses.comparisons.empty()) {
    h << "<section id=\"shared\"><h3>What changed: the words sentence 1 shares with each other sentence</h3>\n";
    for (const lab::Comparison& cmp : ses.comparisons) h << shared_html(cmp, ses, digits);
    h << "</section>\n";
  }
  h << "</section>\n</main>\n<script>" << kScript << "</script>\n</body>\n</html>\n";
  return h.str();
}

}  // namespace attnlab
