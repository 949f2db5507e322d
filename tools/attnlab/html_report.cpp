#include "html_report.hpp"

#include "json.hpp"
#include "svg_heatmap.hpp"

namespace attnlab {

namespace {

/// The SVG without its XML declaration, ready to sit inside HTML.
std::string inline_svg(const std::string& svg) {
  const auto start = svg.find("<svg");
  return start == std::string::npos ? svg : svg.substr(start);
}

/// JSON that can sit inside <script>: no '<' at all, so no "</script>" or "<!--".
std::string script_safe(const std::string& json) {
  std::string out;
  out.reserve(json.size());
  for (char c : json) out += c == '<' ? std::string("\\u003c") : std::string(1, c);
  return out;
}

constexpr const char* kStyle = R"CSS(
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 1.5em; color: #111; background: #fff; }
h1 { font-size: 1.3em; margin: 0 0 .3em; }
.controls { margin: .6em 0; display: flex; gap: 1.5em; align-items: center; flex-wrap: wrap; }
select { font-size: 1em; padding: .15em .3em; }
#status { color: #333; margin: .3em 0 .8em; }
#figures { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
#figures > div { overflow-x: auto; max-width: 100%; border: 1px solid #ddd; }
[data-q] { cursor: pointer; }
.dim { opacity: .12; }
rect.cell.hl { stroke: #000; stroke-width: 2.5px; }
text.hl { fill: #c00000; text-decoration: underline; }
.hint { color: #555; font-size: .9em; }
)CSS";

constexpr const char* kScript = R"JS(
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("lab-data").textContent);
  var sentenceSel = document.getElementById("sentence");
  var headSel = document.getElementById("head");
  var heatmap = document.getElementById("heatmap");
  var arrows = document.getElementById("arrows");
  var status = document.getElementById("status");

  data.sentences.forEach(function (s, i) {
    var o = document.createElement("option");
    o.value = String(i);
    o.textContent = (i + 1) + ": " + s.text;
    sentenceSel.appendChild(o);
  });
  for (var h = 0; h < data.heads; ++h) {
    var o = document.createElement("option");
    o.value = String(h);
    o.textContent = "head " + (h + 1);
    headSel.appendChild(o);
  }

  function marked() { return document.querySelectorAll("#figures [data-q]"); }
  function highlight(q) {
    marked().forEach(function (el) {
      var same = el.getAttribute("data-q") === q;
      var isWord = el.classList.contains("word") || el.classList.contains("qlabel");
      el.classList.toggle("hl", same);
      el.classList.toggle("dim", !same && !isWord);
    });
  }
  function clear() { marked().forEach(function (el) { el.classList.remove("hl", "dim"); }); }

  function show() {
    var s = Number(sentenceSel.value), h = Number(headSel.value);
    var fig = data.sentences[s].heads[h];
    heatmap.innerHTML = fig.heatmap;
    arrows.innerHTML = fig.arrows;
    marked().forEach(function (el) {
      el.addEventListener("mouseenter", function () { highlight(el.getAttribute("data-q")); });
      el.addEventListener("mouseleave", clear);
    });
    var cells = heatmap.querySelectorAll("rect.cell").length;
    var lines = arrows.querySelectorAll("path.arrow").length;
    status.textContent = "Sentence " + (s + 1) + " of " + data.sentences.length + ", head " + (h + 1) + " of " +
        data.heads + ": " + data.sentences[s].tokens.length + " words, " + cells + " cells, " + lines + " arrows.";
    document.body.setAttribute("data-shown", (s + 1) + "-" + (h + 1));
  }

  var m = /s=(\d+)/.exec(location.hash), n = /h=(\d+)/.exec(location.hash);
  if (m && Number(m[1]) >= 1 && Number(m[1]) <= data.sentences.length) sentenceSel.value = String(Number(m[1]) - 1);
  if (n && Number(n[1]) >= 1 && Number(n[1]) <= data.heads) headSel.value = String(Number(n[1]) - 1);
  sentenceSel.addEventListener("change", show);
  headSel.addEventListener("change", show);
  show();
  // "#...&w=N" highlights word N (1-based) as hovering it would: a link can point at one word.
  var w = /w=(\d+)/.exec(location.hash);
  if (w) highlight(String(Number(w[1]) - 1));
  document.body.setAttribute("data-ready", "1");
})();
)JS";

}  // namespace

std::string html_report(const std::vector<std::vector<AttentionPicture>>& pictures,
                        const std::vector<std::string>& texts, const ArrowOptions& arrow_options) {
  Json j;
  j.begin_object().field("heads", static_cast<long long>(pictures.empty() ? 0 : pictures[0].size()));
  j.key("sentences").begin_array();
  for (std::size_t s = 0; s < pictures.size(); ++s) {
    j.begin_object().field("text", texts[s]).key("tokens").begin_array();
    if (!pictures[s].empty())
      for (const auto& t : pictures[s][0].tokens) j.value(t);
    j.end_array().key("heads").begin_array();
    for (const AttentionPicture& p : pictures[s])
      j.begin_object()
          .field("heatmap", inline_svg(svg_heatmap(p)))
          .field("arrows", inline_svg(svg_arrows(p, arrow_options)))
          .end_object();
    j.end_array().end_object();
  }
  j.end_array().end_object();

  std::string html;
  html += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  html += "<title>attnlab lab: attention weights</title>\n<style>";
  html += kStyle;
  html += "</style>\n</head>\n<body data-ready=\"0\">\n";
  html += "<h1>attnlab lab: who attends to whom</h1>\n";
  html += "<div class=\"controls\"><label>Sentence <select id=\"sentence\"></select></label>\n";
  html += "<label>Head <select id=\"head\"></select></label>\n";
  html += "<span class=\"hint\">Hover a word to highlight its row and its arrows.</span></div>\n";
  html += "<p id=\"status\">This page needs JavaScript to draw the figures.</p>\n";
  html += "<div id=\"figures\"><div id=\"heatmap\"></div><div id=\"arrows\"></div></div>\n";
  html += "<script type=\"application/json\" id=\"lab-data\">" + script_safe(j.str()) + "</script>\n";
  html += "<script>";
  html += kScript;
  html += "</script>\n</body>\n</html>\n";
  return html;
}

}  // namespace attnlab
