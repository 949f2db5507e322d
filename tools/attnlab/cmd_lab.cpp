// attnlab lab: the attention lab of an NLP course, exactly. Sentences become
// tokens and embeddings X; X W_Q, X W_K, X W_V give Q, K, V; the engine
// computes softmax(Q Kᵀ/√d_k) and its product with V. Every step is printed as
// a table (with one cell worked out by hand), predictions made by hand are
// checked against the result for every head, the reflection questions get
// numbers, and the pattern is drawn as a heatmap and as arrows (SVG, one HTML
// notebook holding every step, and in colour in the terminal).
#include "ansi_heatmap.hpp"
#include "attention_picture.hpp"
#include "commands.hpp"
#include "files.hpp"
#include "html_report.hpp"
#include "json.hpp"
#include "lab_model.hpp"
#include "lab_output.hpp"
#include "lab_picture.hpp"
#include "lab_predict.hpp"
#include "lab_reflect.hpp"
#include "lab_session.hpp"
#include "lab_worked_cell.hpp"
#include "svg_arrows.hpp"
#include "svg_heatmap.hpp"
#include "table.hpp"

#include <attn/attention.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace attnlab {

namespace {

using lab::Matrix;

struct LabOptions {
  std::vector<std::string> sentences;
  lab::Config config;
  bool dim_given = false, dk_given = false, dv_given = false;
  std::vector<std::string> predict;
  std::string template_sentence;
  bool json = false;
  std::string out = "attnlab-out";
  bool no_pictures = false;
  ArrowOptions arrows;
  bool no_color = false, color = false;
  int digits = 3;
};

std::string quoted(const std::string& s) {
  return "\"" + s + "\"";
}

std::string token(const lab::Sentence& s, int i) {
  return s.tokens[static_cast<std::size_t>(i)];
}

/// "AI", or "the, The (tie)" when keys tie for the top.
std::string top_keys(const lab::Sentence& s, int top, const std::vector<int>& ties) {
  std::string out = token(s, top);
  for (int t : ties) out += ", " + token(s, t);
  return ties.empty() ? out : out + " (tie)";
}

/// A labelled matrix as an aligned table; `masked` cells print as "·"; an extra column per `extra`.
/// Past lab::kShownCells rows or columns only the first lab::kShownCells are printed, and the title says so.
void print_matrix(std::ostream& os, const std::string& title, const std::string& corner,
                  const std::vector<std::string>& rows, const std::vector<std::string>& cols, const Matrix& m,
                  int digits, const lab::Config* mask_config = nullptr,
                  const std::vector<std::pair<std::string, std::vector<double>>>& extra = {}) {
  const bool square = mask_config != nullptr;  // n × n tables are shown whole
  const int shown_rows = square ? m.rows : std::min(m.rows, lab::kShownCells);
  const int shown_cols = square ? m.cols : std::min(m.cols, lab::kShownCells);
  os << "\n" << title;
  if (shown_rows < m.rows || shown_cols < m.cols)
    os << "  (the first "
       << (shown_rows < m.rows ? std::to_string(shown_rows) + " of " + std::to_string(m.rows) + " rows and " : "")
       << shown_cols << " of " << m.cols << " columns; --json has all)";
  os << "\n\n";
  std::vector<std::string> header{corner};
  header.insert(header.end(), cols.begin(), cols.begin() + shown_cols);
  for (const auto& e : extra) header.push_back(e.first);
  Table t(header);
  for (int i = 0; i < shown_rows; ++i) {
    std::vector<std::string> cells{rows[static_cast<std::size_t>(i)]};
    for (int j = 0; j < shown_cols; ++j)
      cells.push_back(mask_config && lab::masked(*mask_config, i, j) ? "\u00b7" : fixed(m.at(i, j), digits));
    for (const auto& e : extra) cells.push_back(fixed(e.second[static_cast<std::size_t>(i)], digits));
    t.add_row(cells);
  }
  t.print(os);
}

void print_reflection(std::ostream& os, const lab::Sentence& s, const Matrix& w, const lab::Reflection& r,
                      const lab::Config& c, int digits) {
  os << "\nReflection: where each word looks\n\n";
  Table t({"query", "top key", "its weight", "self weight", "entropy (bits)", "uniform would be"});
  for (std::size_t i = 0; i < r.words.size(); ++i) {
    const lab::WordFocus& f = r.words[i];
    t.add_row({s.tokens[i], top_keys(s, f.top_key, f.tied_keys), fixed(f.top_weight, digits),
               fixed(f.self_weight, digits), fixed(f.entropy_bits, digits), fixed(f.max_entropy_bits, digits)});
  }
  t.print(os);
  for (std::size_t i = 0; i < r.words.size(); ++i)
    if (!r.words[i].tied_keys.empty()) {
      const lab::WordFocus& f = r.words[i];
      std::string names = quoted(token(s, f.top_key));
      bool same_word = true;
      for (std::size_t k = 0; k < f.tied_keys.size(); ++k) {
        names += (k + 1 == f.tied_keys.size() ? " and " : ", ") + quoted(token(s, f.tied_keys[k]));
        same_word &= lab::lower(token(s, f.tied_keys[k])) == lab::lower(token(s, f.top_key));
      }
      os << "\nTie: " << quoted(s.tokens[i]) << " gives " << names << " the same weight ("
         << fixed(f.top_weight, digits) << ", within " << sci(lab::kTieTolerance) << ")"
         << (same_word ? ": one word in two places has one embedding, so neither is the top key alone."
                       : ": the tie is not broken.");
    }
  if (std::any_of(r.words.begin(), r.words.end(), [](const lab::WordFocus& f) { return !f.tied_keys.empty(); }))
    os << "\n";
  os << "\nFocus on each other (each is the other's top key): ";
  if (r.mutual.empty()) os << "no pair of words.";
  for (std::size_t m = 0; m < r.mutual.size(); ++m)
    os << (m ? ", " : "") << quoted(token(s, r.mutual[m].first)) << " \u2194 " << quoted(token(s, r.mutual[m].second));
  os << "\n";
  const auto& o = r.words[static_cast<std::size_t>(r.most_outward)];
  os << "Focuses most on others: " << quoted(token(s, r.most_outward)) << " (" << fixed(1 - o.self_weight, digits)
     << " of its attention goes to other words).\n";
  if (r.symmetry_pairs > 0) {
    const auto& a = token(s, r.asym_i);
    const auto& b = token(s, r.asym_j);
    os << "Symmetry: max |W - W\u1d40| = " << fixed(r.symmetry_max, digits) << ", between " << quoted(a) << " \u2192 "
       << quoted(b) << " (" << fixed(w.at(r.asym_i, r.asym_j), digits) << ") and " << quoted(b) << " \u2192 "
       << quoted(a) << " (" << fixed(w.at(r.asym_j, r.asym_i), digits) << "); "
       << (r.symmetry_max < 1e-6 ? "symmetric here." : "attention is not symmetric.") << "\n";
  } else if (c.causal && s.tokens.size() > 1) {
    os << "Symmetry: cannot be compared under the causal mask: of W[i][j] and W[j][i] one is always hidden.\n";
  }
}

void print_prediction(std::ostream& os, const lab::Session& ses, std::size_t pi, int digits) {
  const lab::Config& c = ses.config;
  const lab::Prediction& p = ses.aligned[pi];
  const lab::PredictionMatch& m = ses.matches[pi];
  const lab::Sentence& s = ses.sentences[static_cast<std::size_t>(m.sentence)];
  const int n = static_cast<int>(s.tokens.size());
  os << "\n## Prediction " << ses.predictions[pi].path << " vs computed: " << quoted(s.text) << "\n";
  if (m.reordered)
    os << "\n(the file lists the words in another order; its rows and columns are put in the sentence's order)\n";
  const lab::Config unmasked;  // the guess is shown as given, hidden keys included
  print_matrix(os, "Predicted (yours)", "query \\ key", s.tokens, s.tokens, p.weights, digits, &unmasked);
  for (int h = 0; h < c.heads; ++h) {
    const lab::PredictionReport& r = ses.reports[pi][static_cast<std::size_t>(h)];
    const Matrix& w = s.heads[static_cast<std::size_t>(h)].weights;
    const std::string hn = c.heads > 1 ? ", head " + std::to_string(h + 1) : "";
    print_matrix(os, "Computed" + hn, "query \\ key", s.tokens, s.tokens, w, digits, &c);
    Matrix d(n, n);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) d.at(i, j) = w.at(i, j) - p.weights.at(i, j);
    os << "\nDifference" << hn << " (computed - predicted)\n\n";
    std::vector<std::string> header{"query \\ key"};
    header.insert(header.end(), s.tokens.begin(), s.tokens.end());
    Table dt(header);
    for (int i = 0; i < n; ++i) {
      std::vector<std::string> cells{token(s, i)};
      for (int j = 0; j < n; ++j) {
        if (lab::masked(c, i, j) && p.weights.at(i, j) > 0)
          cells.push_back(fixed(d.at(i, j), digits) + " !");
        else
          cells.push_back(lab::masked(c, i, j) ? std::string("\u00b7")
                                               : (d.at(i, j) >= 0 ? "+" : "") + fixed(d.at(i, j), digits));
      }
      dt.add_row(cells);
    }
    dt.print(os);
    os << "\n";
    Table tops({"query", "predicted top key", "computed top key", "same?"});
    for (int i = 0; i < n; ++i) {
      const std::size_t k = static_cast<std::size_t>(i);
      const bool same = r.top_agrees[k] != 0;
      tops.add_row({token(s, i), top_keys(s, r.predicted_top[k], r.predicted_ties[k]),
                    top_keys(s, r.computed_top[k], r.computed_ties[k]), same ? "yes" : "no"});
    }
    tops.print(os);
    os << "\nScore" << hn << ": mean |difference| " << fixed(r.mean_abs_diff, digits) << ", largest "
       << fixed(r.max_abs_diff, digits) << "; top key right for " << r.agreeing_tops << " of " << n << " words.\n";
    if (h == 0 && c.causal) {
      os << "Causal mask: a word sees only itself and the words before it, so of the " << n * n << " cells only "
         << n * (n + 1) / 2 << " can hold weight; the cells marked \u00b7 are 0 in every head.\n";
      for (const auto& g : r.on_masked)
        os << "  ! you gave " << quoted(token(s, g.query)) << " \u2192 " << quoted(token(s, g.key)) << " "
           << fixed(g.weight, digits) << ", but " << quoted(token(s, g.key)) << " comes later: the mask hides it.\n";
    }
  }
}

void print_text(std::ostream& os, const LabOptions& o, const lab::Session& ses, const std::vector<std::string>& files,
                bool colour) {
  const lab::Config& c = ses.config;
  os << "# attnlab lab: " << ses.sentences.size() << " sentence(s), d_model = " << c.dim << ", d_k = " << c.dk
     << ", d_v = " << c.dv << ", " << c.heads << " head(s), seed " << c.seed << ", kernel " << c.kernel;
  if (c.kernel == "auto") os << " \u2192 " << ses.kernel;
  os << (c.causal ? ", causal" : "") << (c.positional ? ", sinusoidal positions" : "") << "\n";
  os << "\nEmbeddings: " << ses.embeddings << ". W_Q, W_K, W_V: " << ses.projections << ".\n";

  const auto xs = lab::numbered("x", c.dim), qs = lab::numbered("q", c.dk), ks = lab::numbered("k", c.dk),
             vs = lab::numbered("v", c.dv);
  const auto os_cols = lab::numbered("o", c.dv);
  const auto& first = ses.sentences[0];
  if (c.projection != "identity")
    for (int h = 0; h < c.heads; ++h) {
      const std::string hn = c.heads > 1 ? " (head " + std::to_string(h + 1) + ")" : "";
      const lab::Head& hd = first.heads[static_cast<std::size_t>(h)];
      print_matrix(os, "W_Q" + hn + " [d_model \u00d7 d_k]", "", xs, qs, hd.wq, o.digits);
      print_matrix(os, "W_K" + hn + " [d_model \u00d7 d_k]", "", xs, ks, hd.wk, o.digits);
      print_matrix(os, "W_V" + hn + " [d_model \u00d7 d_v]", "", xs, vs, hd.wv, o.digits);
    }
  const lab::Config unmasked;
  for (std::size_t si = 0; si < ses.sentences.size(); ++si) {
    const lab::Sentence& s = ses.sentences[si];
    os << "\n## Sentence " << si + 1 << ": " << quoted(s.text) << "\n\ntokens (" << s.tokens.size() << "):";
    for (const auto& t : s.tokens) os << " [" << t << "]";
    os << "\n";
    print_matrix(os, std::string("X: one embedding per token") + (c.positional ? " (plus position encoding)" : ""),
                 "token", s.tokens, xs, s.x, o.digits);
    print_matrix(os, "cos(x_i, x_j): how alike two words' embeddings are (1 = same direction)", "token", s.tokens,
                 s.tokens, s.cosine, o.digits, &unmasked);
    for (int h = 0; h < c.heads; ++h) {
      const lab::Head& hd = s.heads[static_cast<std::size_t>(h)];
      if (c.heads > 1) os << "\n### Head " << h + 1 << "\n";
      if (c.projection != "identity") {
        print_matrix(os, "Q = X W_Q", "token", s.tokens, qs, hd.q, o.digits);
        print_matrix(os, "K = X W_K", "token", s.tokens, ks, hd.k, o.digits);
        print_matrix(os, "V = X W_V", "token", s.tokens, vs, hd.v, o.digits);
      } else {
        os << "\nQ = K = V = X (identity projections): each score is a scaled dot product of two embeddings.\n";
      }
      print_matrix(os,
                   "scores = Q K\u1d40 / \u221ad_k  (\u221a" + std::to_string(c.dk) + " = " +
                       fixed(std::sqrt(static_cast<double>(c.dk)), 3) + "; row: query, column: key" +
                       (c.causal ? "; \u00b7 = masked" : "") + ")",
                   "query \\ key", s.tokens, s.tokens, hd.scores, o.digits, &c, {{"row max", hd.row_max}});
      print_matrix(os, "exp(scores - row max): the largest of each row becomes exp(0) = 1", "query \\ key", s.tokens,
                   s.tokens, hd.exps, o.digits, &c, {{"row sum", hd.row_sum}});
      print_matrix(os, "weights = exp / row sum = softmax(scores), from the engine (kernel " + ses.kernel + ")",
                   "query \\ key", s.tokens, s.tokens, hd.weights, o.digits, &c,
                   {{"row sum", lab::row_sums(hd.weights)}});
      print_matrix(os, "output = weights \u00b7 V, from the engine", "token", s.tokens, os_cols, hd.output, o.digits);
      os << "\n";
      for (const auto& line : lab::worked_cell_lines(lab::worked_cell(hd, c), s.tokens, o.digits)) os << line << "\n";
      os << "\nCheck: the engine's weights against a softmax of the scores above, max |difference| = "
         << sci(hd.max_softmax_check) << "\n";
      if (colour) os << "\n" << ansi_heatmap(lab::picture_of(s, h, c), true);
      print_reflection(os, s, hd.weights, ses.reflections[si][static_cast<std::size_t>(h)], c, o.digits);
    }
  }
  for (const lab::Comparison& cmp : ses.comparisons) {
    const auto& a = ses.sentences[static_cast<std::size_t>(cmp.a)];
    const auto& b = ses.sentences[static_cast<std::size_t>(cmp.b)];
    os << "\n## Shared words: " << quoted(a.text) << " vs " << quoted(b.text)
       << (c.heads > 1 ? " (head " + std::to_string(cmp.head + 1) + ")" : "") << "\n\n";
    if (cmp.shared.empty()) {
      os << "No word in common.\n";
      continue;
    }
    Table t({"from", "to", "weight in " + std::to_string(cmp.a + 1), "weight in " + std::to_string(cmp.b + 1), "change",
             "ratio"});
    for (const auto& p : cmp.pairs)
      t.add_row({p.from, p.to, fixed(p.first, o.digits), fixed(p.second, o.digits),
                 (p.second >= p.first ? "+" : "") + fixed(p.second - p.first, o.digits),
                 p.first > 0 ? fixed(p.second / p.first, o.digits) : std::string("-")});
    t.print(os);
    if (!c.positional && !c.causal)
      os << "\nWithout position encodings a word scores each shared word the same in both sentences; only the "
            "softmax's denominator changes, so within one \"from\" word every ratio is the same.\n";
  }
  for (std::size_t pi = 0; pi < ses.predictions.size(); ++pi) print_prediction(os, ses, pi, o.digits);
  if (!files.empty()) {
    os << "\n## Files\n\n";
    for (const auto& f : files) os << f << "\n";
  }
}

void json_matrix(Json& j, const std::string& key, const Matrix& m) {
  j.key(key).begin_array();
  for (int i = 0; i < m.rows; ++i) {
    j.begin_array();
    for (int c = 0; c < m.cols; ++c) j.value(static_cast<double>(m.at(i, c)));
    j.end_array();
  }
  j.end_array();
}

void json_numbers(Json& j, const std::string& key, const std::vector<double>& v) {
  j.key(key).begin_array();
  for (double x : v) j.value(x);
  j.end_array();
}

void json_strings(Json& j, const std::string& key, const std::vector<std::string>& v) {
  j.key(key).begin_array();
  for (const auto& s : v) j.value(s);
  j.end_array();
}

void json_words(Json& j, const std::string& key, const lab::Sentence& s, const std::vector<int>& idx) {
  j.key(key).begin_array();
  for (int i : idx) j.value(token(s, i));
  j.end_array();
}

void print_json(std::ostream& os, const lab::Session& ses, const std::vector<std::string>& files) {
  const lab::Config& c = ses.config;
  Json j;
  j.begin_object().field("attnlab_version", attn::version()).field("seed", static_cast<long long>(c.seed));
  j.field("dim", c.dim).field("dk", c.dk).field("dv", c.dv).field("heads", c.heads);
  j.field("kernel", c.kernel).field("kernel_used", ses.kernel).field("causal", c.causal);
  j.field("positional", c.positional);
  j.field("embeddings", c.embeddings_file.empty() ? std::string("seeded") : c.embeddings_file);
  j.field("embeddings_described", ses.embeddings).field("projection", c.projection);
  j.key("sentences").begin_array();
  for (std::size_t si = 0; si < ses.sentences.size(); ++si) {
    const lab::Sentence& s = ses.sentences[si];
    j.begin_object().field("text", s.text);
    json_strings(j, "tokens", s.tokens);
    json_matrix(j, "x", s.x);
    json_matrix(j, "cosine", s.cosine);
    j.key("heads").begin_array();
    for (int h = 0; h < c.heads; ++h) {
      const lab::Head& hd = s.heads[static_cast<std::size_t>(h)];
      j.begin_object();
      json_matrix(j, "w_q", hd.wq);
      json_matrix(j, "w_k", hd.wk);
      json_matrix(j, "w_v", hd.wv);
      json_matrix(j, "q", hd.q);
      json_matrix(j, "k", hd.k);
      json_matrix(j, "v", hd.v);
      json_matrix(j, "scores", hd.scores);  // masked cells are -inf, written as null
      json_numbers(j, "row_max", hd.row_max);
      json_matrix(j, "exp_scores_minus_max", hd.exps);
      json_numbers(j, "row_sum", hd.row_sum);
      json_matrix(j, "weights", hd.weights);
      json_matrix(j, "output", hd.output);
      j.field("softmax_check_max_abs", hd.max_softmax_check);
      const lab::WorkedCell wc = lab::worked_cell(hd, c);
      j.key("worked_cell").begin_object().field("query", token(s, wc.query)).field("key", token(s, wc.key));
      j.field("dot", wc.dot).field("score", wc.score).field("row_max", wc.row_max).field("exp", wc.exp_value);
      j.field("row_sum", wc.row_sum).field("weight", wc.weight).end_object();
      const lab::Reflection& r = ses.reflections[si][static_cast<std::size_t>(h)];
      j.key("reflection").begin_object().key("words").begin_array();
      for (std::size_t i = 0; i < r.words.size(); ++i) {
        const auto& f = r.words[i];
        j.begin_object().field("word", s.tokens[i]).field("top_key", token(s, f.top_key));
        json_words(j, "tied_with_top", s, f.tied_keys);
        j.field("top_weight", f.top_weight).field("self_weight", f.self_weight);
        j.field("entropy_bits", f.entropy_bits).field("max_entropy_bits", f.max_entropy_bits).end_object();
      }
      j.end_array().key("mutual_top_keys").begin_array();
      for (const auto& [a, b] : r.mutual) j.begin_array().value(token(s, a)).value(token(s, b)).end_array();
      j.end_array().field("focuses_most_on_others", token(s, r.most_outward));
      j.field("symmetry_pairs", r.symmetry_pairs);
      if (r.symmetry_pairs > 0) {
        j.field("symmetry_max_abs", r.symmetry_max);
        j.key("most_asymmetric_pair").begin_array().value(token(s, r.asym_i)).value(token(s, r.asym_j)).end_array();
      }
      j.end_object();
      j.end_object();
    }
    j.end_array().end_object();
  }
  j.end_array().key("comparisons").begin_array();
  for (const auto& cmp : ses.comparisons) {
    j.begin_object().field("sentence_a", cmp.a + 1).field("sentence_b", cmp.b + 1).field("head", cmp.head + 1);
    json_strings(j, "shared", cmp.shared);
    j.key("pairs").begin_array();
    for (const auto& p : cmp.pairs)
      j.begin_object()
          .field("from", p.from)
          .field("to", p.to)
          .field("weight_a", p.first)
          .field("weight_b", p.second)
          .end_object();
    j.end_array().end_object();
  }
  j.end_array().key("predictions").begin_array();
  for (std::size_t pi = 0; pi < ses.predictions.size(); ++pi) {
    const auto& m = ses.matches[pi];
    const auto& s = ses.sentences[static_cast<std::size_t>(m.sentence)];
    j.begin_object().field("file", ses.predictions[pi].path).field("sentence", m.sentence + 1);
    j.field("reordered", m.reordered);
    json_matrix(j, "predicted", ses.aligned[pi].weights);  // in the sentence's order
    j.key("heads").begin_array();
    for (const auto& r : ses.reports[pi]) {
      j.begin_object().field("head", r.head + 1);
      json_words(j, "predicted_top", s, r.predicted_top);
      json_words(j, "computed_top", s, r.computed_top);
      j.field("mean_abs_difference", r.mean_abs_diff).field("max_abs_difference", r.max_abs_diff);
      j.field("agreeing_tops", r.agreeing_tops);
      j.key("predicted_on_masked").begin_array();
      for (const auto& g : r.on_masked)
        j.begin_object()
            .field("query", token(s, g.query))
            .field("key", token(s, g.key))
            .field("weight", g.weight)
            .end_object();
      j.end_array().end_object();
    }
    j.end_array().end_object();
  }
  j.end_array();
  json_strings(j, "files", files);
  j.end_object();
  os << j.str() << "\n";
}

/// The SVGs of every sentence and head and the notebook, lab.html, into --out.
std::vector<std::string> write_pictures(const LabOptions& o, const lab::Session& ses) {
  const lab::Config& c = ses.config;
  std::vector<std::pair<std::string, std::string>> files;
  for (std::size_t si = 0; si < ses.sentences.size(); ++si)
    for (int h = 0; h < c.heads; ++h) {
      const AttentionPicture p = lab::picture_of(ses.sentences[si], h, c);
      const std::string base = lab::slug(ses.sentences[si].text, static_cast<int>(si)) + "-h" + std::to_string(h + 1);
      files.emplace_back(base + "-heatmap.svg", svg_heatmap(p));
      files.emplace_back(base + "-arrows.svg", svg_arrows(p, o.arrows));
    }
  files.emplace_back("lab.html", html_notebook(ses, o.arrows, o.digits));
  try {
    lab::write_output_files(o.out, files);
  } catch (const std::invalid_argument& e) {  // files.hpp names the path; say which option gave it
    throw std::invalid_argument(std::string("--out: ") + e.what());
  }
  std::vector<std::string> paths;
  for (const auto& f : files) paths.push_back((std::filesystem::path(o.out) / f.first).string());
  return paths;
}

/// A positional argument that names an existing .csv file was meant for --predict.
void refuse_files_as_sentences(const std::vector<std::string>& sentences) {
  for (const auto& s : sentences) {
    const bool csv = s.size() > 4 && lab::lower(s.substr(s.size() - 4)) == ".csv";
    std::error_code ec;
    if (csv && s.find(' ') == std::string::npos && std::filesystem::is_regular_file(s, ec))
      throw std::invalid_argument("sentence '" + s + "' is a CSV file: give --predict once per file (--predict " + s +
                                  ")");
  }
}

void run_lab_command(LabOptions& o) {
  if (o.digits < 0 || o.digits > 9)
    throw std::invalid_argument("--digits: must be in [0, 9], got " + std::to_string(o.digits));
  if (o.arrows.top_k < -1) throw std::invalid_argument("--top-k: must be >= 0, got " + std::to_string(o.arrows.top_k));
  if (!(o.arrows.min_weight >= 0 && o.arrows.min_weight <= 1))
    throw std::invalid_argument("--min-weight: must be in [0, 1], got " + std::to_string(o.arrows.min_weight));
  if (o.color && o.no_color) throw std::invalid_argument("--color and --no-color: choose one");
  if (!o.template_sentence.empty()) {
    if (!o.sentences.empty() || !o.predict.empty())
      throw std::invalid_argument(
          "--template: prints a table to fill for one sentence; give no other sentence or --predict");
    const auto tokens = lab::tokenize(o.template_sentence);
    if (tokens.empty()) throw std::invalid_argument("--template '" + o.template_sentence + "': no words in it");
    std::cout << lab::prediction_template(tokens, o.config);
    return;
  }
  if (o.sentences.empty()) throw std::invalid_argument("give one or more sentences (or --template SENTENCE)");
  refuse_files_as_sentences(o.sentences);
  if (o.config.projection == "identity" && (o.dk_given || o.dv_given))
    throw std::invalid_argument(std::string(o.dk_given ? "--dk" : "--dv") +
                                ": identity projections keep d_k = d_v = d_model; leave it out");
  // Everything that can be checked is checked before computing: predictions and the output folder.
  std::vector<lab::Prediction> predictions;
  for (const auto& path : o.predict) predictions.push_back(lab::read_prediction(path));
  if (!o.no_pictures) check_output_directory("--out", o.out);
  if (!o.config.embeddings_file.empty() && o.dim_given) {
    const int dim = lab::embeddings_dim(o.config.embeddings_file, o.config.vocab_file);
    if (dim != o.config.dim)
      throw std::invalid_argument("--dim " + std::to_string(o.config.dim) + " disagrees with --embeddings " +
                                  o.config.embeddings_file + ", whose vectors have " + std::to_string(dim) +
                                  " numbers (leave --dim out to take the file's)");
  }
  const lab::Session ses = lab::make_session(o.sentences, o.config, std::move(predictions));
  std::vector<std::string> files;
  if (!o.no_pictures) files = write_pictures(o, ses);
  if (o.json)
    print_json(std::cout, ses, files);
  else
    print_text(std::cout, o, ses, files, o.color || (!o.no_color && stdout_wants_colour(false)));
}

}  // namespace

void add_lab_command(CLI::App& app) {
  auto o = std::make_shared<LabOptions>();
  CLI::App* cmd = app.add_subcommand(
      "lab",
      "The attention lab: sentences -> embeddings -> Q, K, V -> scores -> softmax -> output, step by step, with "
      "predictions, reflection numbers, heatmaps, arrows and one HTML notebook");
  cmd->footer(
      "\nExamples:\n"
      "  attnlab lab \"I love AI\"\n"
      "  attnlab lab \"I love AI\" \"AI loves me\" \"I love AI deeply\" --out pictures\n"
      "  attnlab lab --template \"I love AI\" > guess.csv      (fill it in, then:)\n"
      "  attnlab lab \"I love AI\" --predict guess.csv\n"
      "  attnlab lab \"The cat sat on the mat\" --embeddings glove --projection identity\n"
      "  attnlab lab \"Birds can fly\" --heads 2 --causal --json\n"
      "\n--embeddings glove reads the GloVe vectors that tools/fetch-glove.sh downloads and converts\n"
      "(into $ATTNLAB_GLOVE, or ${XDG_CACHE_HOME:-~/.cache}/attnlab/glove-100d.emb).\n"
      "The weights come from the engine: attention is run once with V = the identity\n"
      "(row i of softmax(S)·I is row i of softmax(S)) and once with the real V.");
  cmd->add_option("sentences", o->sentences, "One or more sentences (quote each)");
  cmd->add_option("--template", o->template_sentence,
                  "Print a prediction table to fill in for this sentence (CSV, for --predict) and exit");
  cmd->add_option("--seed", o->config.seed, "Seed of the embeddings and W_Q, W_K, W_V")->capture_default_str();
  cmd->add_option("--dim", o->config.dim, "Embedding size d_model (taken from --embeddings when given)")
      ->capture_default_str()
      ->each([o](const std::string&) { o->dim_given = true; });
  cmd->add_option("--dk", o->config.dk, "Query/key size d_k per head")
      ->capture_default_str()
      ->each([o](const std::string&) { o->dk_given = true; });
  cmd->add_option("--dv", o->config.dv, "Value size d_v per head")
      ->capture_default_str()
      ->each([o](const std::string&) { o->dv_given = true; });
  cmd->add_option("--heads", o->config.heads, "Attention heads (each with its own W_Q, W_K, W_V)")
      ->capture_default_str();
  cmd->add_option("--kernel", o->config.kernel, "Engine kernel: a registered name or auto")->capture_default_str();
  cmd->add_flag("--causal", o->config.causal, "Mask later words: query i sees keys 1..i");
  cmd->add_flag("--positional", o->config.positional, "Add sinusoidal position encodings to X (word order matters)");
  cmd->add_option("--embeddings", o->config.embeddings_file,
                  "glove (the downloaded GloVe vectors), a .emb file (tools/glove-convert.py), a CSV of "
                  "'word,x1,...,xd' rows, or a .npy [words, d] with --vocab");
  cmd->add_option("--vocab", o->config.vocab_file,
                  "The words of a .npy --embeddings file, one per line (line i: row i)");
  cmd->add_option("--projection", o->config.projection,
                  "W_Q, W_K, W_V: random (seeded), identity (Q = K = V = X: attention is scaled similarity), "
                  "or a CSV/.npy FILE used for all three")
      ->capture_default_str();
  cmd->add_option("--wq", o->config.wq_file, "CSV or .npy of W_Q: heads*d_model rows, d_k columns, heads stacked");
  cmd->add_option("--wk", o->config.wk_file, "CSV or .npy of W_K: heads*d_model rows, d_k columns");
  cmd->add_option("--wv", o->config.wv_file, "CSV or .npy of W_V: heads*d_model rows, d_v columns");
  cmd->add_option("--predict", o->predict,
                  "CSV of your predicted weights (see --template); one file per --predict, repeatable, each "
                  "matched to the sentence with its words (in any order)")
      ->allow_extra_args(false);  // one file per --predict, so sentences may follow it
  cmd->add_flag("--json", o->json, "Print everything as JSON instead of tables");
  cmd->add_option("--out", o->out,
                  "Directory for the SVG pictures and the notebook lab.html (a rerun replaces only its own files)")
      ->capture_default_str();
  cmd->add_flag("--no-pictures", o->no_pictures, "Write no files");
  cmd->add_option("--top-k", o->arrows.top_k,
                  "Arrows: keep each word's k strongest (0 = all; default: 3 from 10 words up, else all)");
  cmd->add_option("--min-weight", o->arrows.min_weight, "Arrows: drop weights below this")->capture_default_str();
  cmd->add_flag("--no-color", o->no_color,
                "No ANSI colour heatmap (also off when stdout is not a terminal or NO_COLOR is set)");
  cmd->add_flag("--color", o->color, "Draw the ANSI colour heatmap even when stdout is not a terminal");
  cmd->add_option("--digits", o->digits, "Decimals in the tables")->capture_default_str();
  cmd->callback([o] { run_lab_command(*o); });
}

}  // namespace attnlab
