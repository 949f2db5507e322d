// The lab's pictures: every SVG is well-formed XML, and its cells and arrows
// are exactly the engine's weights; the colour scale is darker for stronger
// weights; the HTML is self-contained; the terminal heatmap colours only when asked.
#include "ansi_heatmap.hpp"
#include "attention_picture.hpp"
#include "colormap.hpp"
#include "html_report.hpp"
#include "lab_model.hpp"
#include "lab_predict.hpp"
#include "lab_session.hpp"
#include "mini_xml.hpp"
#include "svg_arrows.hpp"
#include "svg_heatmap.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>
#include <string>

namespace {

using attn::test::parse_xml;
using attn::test::XmlNode;
using attnlab::AttentionPicture;

AttentionPicture picture(const std::string& sentence, bool causal, int heads = 1, int head = 0) {
  attnlab::lab::Config c;
  c.causal = causal;
  c.heads = heads;
  const auto s = attnlab::lab::run_lab({sentence}, c);
  AttentionPicture p;
  p.title = sentence;
  p.tokens = s[0].tokens;
  p.weights = s[0].heads[static_cast<std::size_t>(head)].weights.v;
  const int n = p.n();
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) p.masked.push_back(attnlab::lab::masked(c, i, j) ? 1 : 0);
  return p;
}

int count_masked(const AttentionPicture& p) {
  return static_cast<int>(std::count(p.masked.begin(), p.masked.end(), 1));
}

void expect_heatmap_matches(const AttentionPicture& p) {
  const auto root = parse_xml(attnlab::svg_heatmap(p));
  ASSERT_EQ(root->name, "svg");
  EXPECT_EQ(root->attr("xmlns"), "http://www.w3.org/2000/svg");
  const int n = p.n();
  const auto cells = root->find_all("rect", "cell");
  ASSERT_EQ(static_cast<int>(cells.size()), n * n) << p.title;
  std::set<std::pair<int, int>> seen;
  int masked = 0;
  for (const XmlNode* c : cells) {
    const int i = std::stoi(c->attr("data-q")), j = std::stoi(c->attr("data-k"));
    ASSERT_TRUE(seen.insert({i, j}).second) << "cell drawn twice";
    if (p.is_masked(i, j)) {
      ++masked;
      EXPECT_TRUE(c->has_class("masked"));
      EXPECT_EQ(c->attr("fill"), "url(#hatch)") << "masked cells are hatched, not drawn as 0";
      EXPECT_EQ(c->attr("data-w"), "");
      continue;
    }
    EXPECT_FALSE(c->has_class("masked"));
    // data-w carries 6 decimals: within half a unit of the 6th.
    EXPECT_NEAR(std::stod(c->attr("data-w")), p.w(i, j), 5e-7 + 1e-12) << p.title << " cell " << i << "," << j;
    EXPECT_EQ(c->attr("fill"), attnlab::weight_colour(p.on_scale(p.w(i, j))).hex());
  }
  EXPECT_EQ(masked, count_masked(p));
  EXPECT_EQ(static_cast<int>(root->find_all("text", "qlabel").size()), n);
  EXPECT_EQ(static_cast<int>(root->find_all("text", "klabel").size()), n);
  const std::string all = root->all_text();
  for (const auto& t : p.tokens) EXPECT_NE(all.find(attnlab::short_label(t, 16)), std::string::npos) << t;
  if (masked > 0) {
    EXPECT_NE(all.find("masked"), std::string::npos) << "the legend explains the hatching";
  }
  EXPECT_NE(all.find("weight"), std::string::npos) << "legend";
}

TEST(LabHeatmapSvg, CellsAreTheWeightsWithValuesAndLegend) {
  const auto p = picture("I love AI deeply", false);
  expect_heatmap_matches(p);
  const auto root = parse_xml(attnlab::svg_heatmap(p));
  const auto values = root->find_all("text", "value");
  ASSERT_EQ(values.size(), 16u);
  for (std::size_t c = 0; c < 16; ++c) EXPECT_EQ(values[c]->text, attnlab::weight_label(p.weights[c])) << "cell " << c;
  EXPECT_EQ(root->find_all("stop").size(), 11u) << "the legend's gradient";
  // The scale is fitted to the data and says so: its ends are the smallest and the largest weight.
  const auto range = p.scale();
  EXPECT_EQ(range.lo, *std::min_element(p.weights.begin(), p.weights.end()));
  EXPECT_EQ(range.hi, *std::max_element(p.weights.begin(), p.weights.end()));
  EXPECT_NE(root->all_text().find("fitted to these weights: " + attnlab::weight_label(range.lo) + " (lightest) to " +
                                  attnlab::weight_label(range.hi) + " (darkest)"),
            std::string::npos);
}

TEST(LabLabels, WeightsWithTwoSignificantDigitsAndNeverZero) {
  EXPECT_EQ(attnlab::weight_label(0.377), "0.38");
  EXPECT_EQ(attnlab::weight_label(0.0025), "0.0025");
  EXPECT_EQ(attnlab::weight_label(0.01234), "0.012");
  EXPECT_EQ(attnlab::weight_label(1.0), "1.0");
  EXPECT_EQ(attnlab::weight_label(0.0996), "0.10");  // rounding up to the next decade keeps two digits
  EXPECT_EQ(attnlab::weight_label(0.999), "1.0");
  EXPECT_EQ(attnlab::weight_label(0.00004), "<0.001");
  EXPECT_EQ(attnlab::weight_label(0), "0");
  // Every positive weight from 1e-6 to 1: two significant digits (or "<0.001"), never "0", within 5% of the value.
  for (double w = 1e-6; w <= 1.0; w *= 1.01) {
    const std::string s = attnlab::weight_label(w);
    ASSERT_NE(s, "0") << w;
    if (w < 0.00095) continue;
    if (s == "<0.001") {
      EXPECT_LT(w, 0.001);
      continue;
    }
    std::size_t digits = 0, first = s.find_first_of("123456789");
    ASSERT_NE(first, std::string::npos) << s;
    for (std::size_t i = first; i < s.size(); ++i) digits += s[i] >= '0' && s[i] <= '9';
    EXPECT_EQ(digits, 2u) << w << " -> " << s;
    EXPECT_NEAR(std::stod(s), w, 0.05 * w) << s;
  }
}

TEST(LabHeatmapSvg, MidLengthInputsShowValuesAndSpreadColours) {
  // 28 words: weights around 1/28 must not all look alike; every value is printed.
  std::string sentence;
  for (int i = 0; i < 28; ++i) sentence += "w" + std::to_string(i) + " ";
  const auto p = picture(sentence, false);
  const auto root = parse_xml(attnlab::svg_heatmap(p));
  std::set<std::string> fills;
  for (const XmlNode* c : root->find_all("rect", "cell")) fills.insert(c->attr("fill"));
  EXPECT_GE(fills.size(), 100u) << "a colour scale fitted to the data spreads the colours";
  EXPECT_EQ(root->find_all("text", "value").size(), 28u * 28u) << "values printed where they fit";
  for (const XmlNode* v : root->find_all("text", "value")) EXPECT_NE(v->text, "0");
}

TEST(LabHeatmapSvg, CausalCellsAreHatched) {
  const auto p = picture("Students learn quickly .", true);
  ASSERT_EQ(count_masked(p), 6);
  expect_heatmap_matches(p);
}

TEST(LabHeatmapSvg, MarkupInWordsIsEscaped) {
  const auto p = picture("a<b & \"c\" 'd' > e", false);
  expect_heatmap_matches(p);
  expect_heatmap_matches(picture("x ]]> <!-- y", true));
}

TEST(LabHeatmapSvg, LongInputsStayReadable) {
  std::string sentence;
  for (int i = 0; i < 60; ++i) sentence += "word" + std::to_string(i % 23) + (i % 7 == 6 ? ", " : " ");
  auto p = picture(sentence, true);
  ASSERT_GT(p.n(), 60);
  p.note = "many tokens";
  expect_heatmap_matches(p);
  const auto root = parse_xml(attnlab::svg_heatmap(p));
  EXPECT_LE(std::stod(root->attr("width")), 1300.0) << "the grid shrinks instead of growing without bound";
  EXPECT_TRUE(root->find_all("text", "value").empty()) << "no numbers crammed into small cells";
  EXPECT_EQ(root->find_all("text", "note").size(), 1u);
  float largest = 0, smallest = 1;
  for (std::size_t c = 0; c < p.weights.size(); ++c)
    if (!p.masked[c]) largest = std::max(largest, p.weights[c]), smallest = std::min(smallest, p.weights[c]);
  EXPECT_EQ(p.scale().hi, largest) << "the scale is fitted to the visible weights";
  EXPECT_EQ(p.scale().lo, smallest);
}

TEST(LabColours, DarkerMeansStronger) {
  double last = 2;
  for (int t = 0; t <= 100; ++t) {
    const double l = attnlab::weight_colour(t / 100.0).luminance();
    EXPECT_LT(l, last) << "luminance must fall as the weight grows, t = " << t / 100.0;
    last = l;
  }
  // The value printed on a cell meets WCAG AA contrast (4.5:1) on every colour of the scale.
  for (int t = 0; t <= 100; ++t) {
    const attnlab::Rgb c = attnlab::weight_colour(t / 100.0);
    const double l = c.luminance();
    const double contrast = c.wants_light_text() ? 1.05 / (l + 0.05) : (l + 0.05) / 0.05;
    EXPECT_GE(contrast, 4.5) << "t = " << t / 100.0;
  }
  EXPECT_EQ(attnlab::weight_colour(1.0).hex(), "#440154");  // viridis' dark end
  EXPECT_EQ(attnlab::weight_colour(0.0).hex(), "#fde725");
}

void expect_arrows_match(const AttentionPicture& p, const attnlab::ArrowOptions& o) {
  const auto root = parse_xml(attnlab::svg_arrows(p, o));
  ASSERT_EQ(root->name, "svg");
  const int n = p.n();
  // The expected set, computed here from the weights.
  std::set<std::pair<int, int>> want;
  for (int i = 0; i < n; ++i) {
    std::vector<std::pair<float, int>> row;
    for (int j = 0; j < n; ++j)
      if (!p.is_masked(i, j) && p.w(i, j) >= o.min_weight && p.w(i, j) > 0) row.push_back({-p.w(i, j), j});
    std::stable_sort(row.begin(), row.end(), [](auto a, auto b) { return a.first < b.first; });
    const int k = attnlab::effective_top_k(p, o);
    if (k > 0 && static_cast<int>(row.size()) > k) row.resize(static_cast<std::size_t>(k));
    for (const auto& [w, j] : row) want.insert({i, j});
  }
  const auto arrows = root->find_all("path", "arrow");
  ASSERT_EQ(arrows.size(), want.size()) << p.title << " top_k " << o.top_k << " min " << o.min_weight;
  std::vector<std::pair<double, double>> width_by_weight;
  for (const XmlNode* a : arrows) {
    const int i = std::stoi(a->attr("data-q")), j = std::stoi(a->attr("data-k"));
    EXPECT_TRUE(want.count({i, j})) << i << "->" << j;
    EXPECT_EQ(a->has_class("self"), i == j) << "self-attention is drawn as a loop";
    EXPECT_NEAR(std::stod(a->attr("data-w")), p.w(i, j), 5e-7 + 1e-12);
    width_by_weight.push_back({p.w(i, j), std::stod(a->attr("stroke-width"))});
    const double op = std::stod(a->attr("opacity"));
    EXPECT_NEAR(op, std::clamp(p.w(i, j) / p.scale().hi, 0.08, 1.0), 0.006) << "opacity proportional to weight";
  }
  std::sort(width_by_weight.begin(), width_by_weight.end());
  for (std::size_t k = 1; k < width_by_weight.size(); ++k)
    EXPECT_LE(width_by_weight[k - 1].second, width_by_weight[k].second + 1e-9) << "wider for heavier";
  if (width_by_weight.size() > 1 && width_by_weight.back().first - width_by_weight.front().first > 0.05) {
    EXPECT_GT(width_by_weight.back().second, width_by_weight.front().second);
  }
  EXPECT_EQ(static_cast<int>(root->find_all("text", "word").size()), n);
}

TEST(LabArrowsSvg, OneArrowPerPairWidthAndOpacityFollowTheWeight) {
  for (const bool causal : {false, true}) {
    const auto p = picture("I love AI deeply", causal);
    expect_arrows_match(p, {});
    const auto root = parse_xml(attnlab::svg_arrows(p, {}));
    EXPECT_EQ(root->find_all("path", "arrow").size(), causal ? 10u : 16u);
    EXPECT_EQ(root->find_all("path", "self").size(), 4u);
    expect_arrows_match(p, {1, 0});
    expect_arrows_match(p, {2, 0});
    expect_arrows_match(p, {0, 0.25});
    expect_arrows_match(p, {2, 0.3});
  }
  expect_arrows_match(picture("x < y & z", false), {});
}

TEST(LabArrowsSvg, TopOneKeepsEachWordsStrongestKey) {
  const auto p = picture("Birds can fly", false);
  const auto chosen = attnlab::chosen_arrows(p, {1, 0});
  ASSERT_EQ(chosen.size(), 3u);
  for (const auto& a : chosen)
    for (int j = 0; j < 3; ++j) EXPECT_GE(a.w, p.w(a.q, j));
}

TEST(LabArrowsSvg, LongInputsStayWellFormed) {
  std::string sentence;
  for (int i = 0; i < 50; ++i) sentence += "w" + std::to_string(i) + " ";
  const auto p = picture(sentence, false);
  expect_arrows_match(p, {3, 0});
}

TEST(LabArrowsSvg, ThinnedFromTenWordsWithKInTheLegend) {
  const auto nine = picture("a b c d e f g h i", false);
  EXPECT_EQ(attnlab::effective_top_k(nine, {}), 0) << "9 words: every arrow";
  std::string sentence;
  for (int i = 0; i < 13; ++i) sentence += "w" + std::to_string(i) + " ";
  const auto p = picture(sentence, false);
  EXPECT_EQ(attnlab::effective_top_k(p, {}), attnlab::kThinnedArrows);
  expect_arrows_match(p, {});
  const auto root = parse_xml(attnlab::svg_arrows(p, {}));
  EXPECT_EQ(root->find_all("path", "arrow").size(), 13u * attnlab::kThinnedArrows);
  EXPECT_NE(root->all_text().find("only each word's 3 strongest of its 13 arrows are drawn (k = 3"), std::string::npos);
  EXPECT_EQ(attnlab::effective_top_k(p, {0, 0}), 0) << "--top-k 0 draws them all";
}

TEST(LabArrowsSvg, WeightLabelsNeverOverlapEachOtherOrTheWords) {
  // 13 words in a row: long arcs are capped at one height, where their labels used to pile up.
  std::string sentence;
  for (int i = 0; i < 13; ++i) sentence += "word" + std::to_string(i) + " ";
  for (const int k : {0, 3}) {
    const auto p = picture(sentence, false);
    const auto root = parse_xml(attnlab::svg_arrows(p, {k, 0}));
    struct Box {
      double x0, y0, x1, y1;
    };
    std::vector<Box> boxes;
    // The same text extents the drawing assumes: 11 px labels, 14 px bold words, 0.62 em per character.
    for (const XmlNode* t : root->find_all("text", "wlabel")) {
      const double x = std::stod(t->attr("x")), y = std::stod(t->attr("y"));
      const double half = static_cast<double>(t->text.size()) * 11 * 0.31;
      boxes.push_back({x - half, y - 9, x + half, y + 2});
      EXPECT_EQ(t->text, attnlab::weight_label(p.w(std::stoi(t->attr("data-q")), std::stoi(t->attr("data-k")))));
    }
    const std::size_t labels = boxes.size();
    EXPECT_GE(labels, 13u) << "most arrows keep a label";
    for (const XmlNode* t : root->find_all("text", "word")) {
      const double x = std::stod(t->attr("x")), y = std::stod(t->attr("y"));
      const double half = static_cast<double>(t->text.size()) * 14 * 0.31;
      boxes.push_back({x - half, y - 13, x + half, y + 3});
    }
    for (std::size_t i = 0; i < labels; ++i)
      for (std::size_t j = i + 1; j < boxes.size(); ++j) {
        const bool overlap = boxes[i].x0 < boxes[j].x1 && boxes[j].x0 < boxes[i].x1 && boxes[i].y0 < boxes[j].y1 &&
                             boxes[j].y0 < boxes[i].y1;
        EXPECT_FALSE(overlap) << "label " << i << " overlaps " << (j < labels ? "label " : "word ") << j;
      }
  }
}

TEST(LabHtml, TheNotebookIsSelfContainedWithEveryStepAndHead) {
  attnlab::lab::Config c;
  c.heads = 2;
  c.causal = true;
  auto guess = attnlab::lab::parse_prediction(",love,I,AI\nlove,0.5,0.5,0\nI,1,0,0\nAI,0.2,0.4,0.4\n", "g.csv");
  const auto ses = attnlab::lab::make_session({"I love AI", "AI loves me"}, c, {guess});
  const std::string html = attnlab::html_notebook(ses, {}, 3);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  // The only URL is the SVG namespace, which is a name, not a fetch.
  std::size_t at = 0;
  while ((at = html.find("http://", at)) != std::string::npos) {
    EXPECT_EQ(html.compare(at, 26, "http://www.w3.org/2000/svg"), 0) << html.substr(at, 40);
    ++at;
  }
  for (const char* id :
       {"s1-x", "s1-cos", "s1-h1-q", "s1-h1-k", "s1-h1-v", "s1-h1-scores", "s1-h1-exp", "s1-h1-weights", "s1-h1-output",
        "s1-h2-weights", "s2-h2-output", "predictions", "compare", "shared"})
    EXPECT_NE(html.find("id=\"" + std::string(id) + "\""), std::string::npos) << id;
  EXPECT_NE(html.find("Worked cell"), std::string::npos);
  EXPECT_NE(html.find("Which words focus on each other?"), std::string::npos);
  EXPECT_NE(html.find("@media print"), std::string::npos);
  EXPECT_NE(html.find("The file lists the words in another order"), std::string::npos);
  // "I" -> "love" is hidden by the mask in the guess's order ("love" comes later): flagged.
  EXPECT_NE(html.find("comes later: the causal mask hides it"), std::string::npos);
  EXPECT_NE(html.find("cannot be compared under the causal mask"), std::string::npos);
  EXPECT_EQ(html.find("undefined"), std::string::npos);
}

TEST(LabAnsi, ColourOnlyWhenAsked) {
  const auto p = picture("I love AI", true);
  const std::string plain = attnlab::ansi_heatmap(p, false);
  const std::string colour = attnlab::ansi_heatmap(p, true);
  EXPECT_EQ(plain.find('\x1b'), std::string::npos);
  std::size_t cells = 0;
  for (std::size_t at = 0; (at = colour.find("\x1b[48;2;", at)) != std::string::npos; ++at) ++cells;
  EXPECT_EQ(cells, 9u) << "6 weights and 3 masked cells";
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j <= i; ++j) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%.2f", p.w(i, j));
      EXPECT_NE(plain.find(buf), std::string::npos) << buf;
      const attnlab::Rgb c = attnlab::weight_colour(p.on_scale(p.w(i, j)));
      const std::string esc =
          "\x1b[48;2;" + std::to_string(c.r) + ";" + std::to_string(c.g) + ";" + std::to_string(c.b) + "m";
      EXPECT_NE(colour.find(esc), std::string::npos);
    }
  EXPECT_FALSE(attnlab::stdout_wants_colour(true));
  setenv("NO_COLOR", "1", 1);
  EXPECT_FALSE(attnlab::stdout_wants_colour(false));
  unsetenv("NO_COLOR");
}

TEST(LabLabels, CutOnCharactersNotBytes) {
  EXPECT_EQ(attnlab::short_label("abc", 3), "abc");
  EXPECT_EQ(attnlab::short_label("abcd", 3), "ab\u2026");
  EXPECT_EQ(attnlab::short_label("h\u00e9llo w\u00f6rld", 5), "h\u00e9ll\u2026");
  EXPECT_EQ(attnlab::short_label("\u00e9\u00e9\u00e9", 2), "\u00e9\u2026");
  EXPECT_EQ(attnlab::short_label("x", 0), "");
}

TEST(LabXmlChecker, RejectsWhatIsNotWellFormed) {
  EXPECT_NO_THROW(parse_xml("<?xml version=\"1.0\"?>\n<a x=\"1\"><b/>t &amp; &#x41;</a>\n"));
  for (const char* bad : {"<a>", "<a></b>", "<a x=1/>", "<a x=\"1\" x=\"2\"/>", "<a>&nope;</a>", "<a>x < y</a>",
                          "<a/><b/>", "<a x=\"<\"/>", "<a>& b</a>"})
    EXPECT_THROW(parse_xml(bad), std::runtime_error) << bad;
}

}  // namespace
