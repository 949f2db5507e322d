// attnlab lab: the attention lab of an NLP course, exactly. Sentences become
// tokens and small embeddings X; X W_Q, X W_K, X W_V give Q, K, V; the engine
// computes softmax(Q Kᵀ/√d_k) and its product with V. Every step is printed as
// a table, predictions made by hand are checked against the result, the
// reflection questions get numbers, and the pattern is drawn as a heatmap and
// as arrows (SVG, one interactive HTML page, and in colour in the terminal).
#include "ansi_heatmap.hpp"
#include "attention_picture.hpp"
#include "commands.hpp"
#include "files.hpp"
#include "html_report.hpp"
#include "json.hpp"
#include "lab_model.hpp"
#include "lab_predict.hpp"
#include "lab_reflect.hpp"
#include "svg_arrows.hpp"
#include "svg_heatmap.hpp"
#include "table.hpp"

#include <attn/attention.hpp>

#include <cmath>
#include <iostream>
#include <string>
#include <vector>

namespace attnlab {

namespace {

using lab::Matrix;

struct LabOptions {
  std::vector<std::string> sentences;
  lab::Config config;
  bool dim_given = false;
  std::vector<std::string> predict;
  bool json = false;
  std::string out = "attnlab-out";
  bool no_pictures = false;
  ArrowOptions arrows;
  bool top_k_given = false;
  bool no_color = false, color = false;
  int digits = 3;
};

std::vector<std::string> numbered(const std::string& prefix, int n) {
  std::vector<std::string> v;
  for (int i = 1; i <= n; ++i) v.push_back(prefix + std::to_string(i));
  return v;
}

std::string quoted(const std::string& s) {
  return "\"" + s + "\"";
}

/// A labelled matrix as an aligned table; `masked` cells print as "·".
void print_matrix(std::ostream& os, const std::string& title, const std::string& corner,
                  const std::vector<std::string>& rows, const std::vector<std::string>& cols, const Matrix& m,
                  int digits, const lab::Config* mask_config = nullptr, bool row_sums = false) {
  os << "\n" << title << "\n\n";
  std::vector<std::string> header{corner};
  header.insert(header.end(), cols.begin(), cols.end());
  if (row_sums) header.push_back("row sum");
  Table t(header);
  for (int i = 0; i < m.rows; ++i) {
    std::vector<std::string> cells{rows[static_cast<std::size_t>(i)]};
    double sum = 0;
    for (int j = 0; j < m.cols; ++j) {
      sum += m.at(i, j);
      cells.push_back(mask_config && lab::masked(*mask_config, i, j) ? "\u00b7" : fixed(m.at(i, j), digits));
    }
    if (row_sums) cells.push_back(fixed(sum, digits));
    t.add_row(cells);
  }
  t.print(os);
}

AttentionPicture picture_of(const lab::Sentence& s, int head, const lab::Config& c) {
  AttentionPicture p;
  p.title = quoted(short_label(s.text, 60)) + (c.heads > 1 ? ", head " + std::to_string(head + 1) : std::string()) +
            (c.causal ? " (causal)" : "");
  p.tokens = s.tokens;
  const Matrix& w = s.heads[static_cast<std::size_t>(head)].weights;
  p.weights = w.v;
  const int n = w.rows;
  p.masked.assign(static_cast<std::size_t>(n) * n, 0);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) p.masked[static_cast<std::size_t>(i) * n + j] = lab::masked(c, i, j) ? 1 : 0;
  if (n > kLongInputTokens)
    p.note = std::to_string(n) + " tokens: colours and widths are relative to the largest weight; hover for values.";
  return p;
}

std::string slug(const std::string& text, int index) {
  std::string s = "s" + std::to_string(index + 1) + "-";
  for (char c : lab::lower(text)) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (keep)
      s += c;
    else if (s.back() != '-')
      s += '-';
    if (s.size() >= 32) break;
  }
  while (s.back() == '-') s.pop_back();
  return s;
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

void json_strings(Json& j, const std::string& key, const std::vector<std::string>& v) {
  j.key(key).begin_array();
  for (const auto& s : v) j.value(s);
  j.end_array();
}

struct Results {
  std::vector<lab::Sentence> sentences;
  std::vector<std::vector<lab::Reflection>> reflections;  // [sentence][head]
  std::vector<lab::Comparison> comparisons;
  std::vector<lab::Prediction> predictions;
  std::vector<lab::PredictionReport> reports;
  std::vector<std::string> files;
  std::string kernel;
};

void print_reflection(std::ostream& os, const lab::Sentence& s, const Matrix& w, const lab::Reflection& r, int digits) {
  os << "\nReflection: where each word looks\n\n";
  Table t({"query", "top key", "its weight", "self weight", "entropy (bits)", "uniform would be"});
  for (std::size_t i = 0; i < r.words.size(); ++i) {
    const lab::WordFocus& f = r.words[i];
    t.add_row({s.tokens[i], s.tokens[static_cast<std::size_t>(f.top_key)], fixed(f.top_weight, digits),
               fixed(f.self_weight, digits), fixed(f.entropy_bits, digits), fixed(f.max_entropy_bits, digits)});
  }
  t.print(os);
  const auto& o = r.words[static_cast<std::size_t>(r.most_outward)];
  os << "\nFocuses most on others: " << quoted(s.tokens[static_cast<std::size_t>(r.most_outward)]) << " ("
     << fixed(1 - o.self_weight, digits) << " of its attention goes to other words).\n";
  if (s.tokens.size() > 1) {
    const auto& a = s.tokens[static_cast<std::size_t>(r.asym_i)];
    const auto& b = s.tokens[static_cast<std::size_t>(r.asym_j)];
    os << "Symmetry: max |W - W\u1d40| = " << fixed(r.symmetry_max, digits) << ", between " << quoted(a) << " \u2192 "
       << quoted(b) << " (" << fixed(w.at(r.asym_i, r.asym_j), digits) << ") and " << quoted(b) << " \u2192 "
       << quoted(a) << " (" << fixed(w.at(r.asym_j, r.asym_i), digits) << "); "
       << (r.symmetry_max < 1e-6 ? "symmetric here." : "attention is not symmetric.") << "\n";
  }
}

void print_text(std::ostream& os, const LabOptions& o, const Results& res, bool colour) {
  const lab::Config& c = o.config;
  os << "# attnlab lab: " << res.sentences.size() << " sentence(s), d_model = " << c.dim << ", d_k = " << c.dk
     << ", d_v = " << c.dv << ", " << c.heads << " head(s), seed " << c.seed << ", kernel " << c.kernel;
  if (c.kernel == "auto") os << " \u2192 " << res.kernel;
  os << (c.causal ? ", causal" : "") << (c.positional ? ", sinusoidal positions" : "") << "\n";
  os << "\nEmbeddings: "
     << (c.embeddings_file.empty() ? "seeded from each lower-cased word and the seed (the same word "
                                     "has the same row in every sentence)"
                                   : "from " + c.embeddings_file)
     << ". W_Q, W_K, W_V: ";
  os << (c.wq_file.empty() && c.wk_file.empty() && c.wv_file.empty() ? "seeded, uniform in [-1, 1)" : "from files")
     << ", shared by every sentence.\n";

  const auto xs = numbered("x", c.dim), qs = numbered("q", c.dk), ks = numbered("k", c.dk), vs = numbered("v", c.dv);
  const auto os_cols = numbered("o", c.dv);
  const auto& first = res.sentences[0];
  for (int h = 0; h < c.heads; ++h) {
    const std::string hn = c.heads > 1 ? " (head " + std::to_string(h + 1) + ")" : "";
    const lab::Head& hd = first.heads[static_cast<std::size_t>(h)];
    print_matrix(os, "W_Q" + hn + " [d_model \u00d7 d_k]", "", xs, qs, hd.wq, o.digits);
    print_matrix(os, "W_K" + hn + " [d_model \u00d7 d_k]", "", xs, ks, hd.wk, o.digits);
    print_matrix(os, "W_V" + hn + " [d_model \u00d7 d_v]", "", xs, vs, hd.wv, o.digits);
  }
  for (std::size_t si = 0; si < res.sentences.size(); ++si) {
    const lab::Sentence& s = res.sentences[si];
    os << "\n## Sentence " << si + 1 << ": " << quoted(s.text) << "\n\ntokens (" << s.tokens.size() << "):";
    for (const auto& t : s.tokens) os << " [" << t << "]";
    os << "\n";
    if (static_cast<int>(s.tokens.size()) > kLongInputTokens)
      os << "note: " << s.tokens.size() << " tokens: the tables are wide; the pictures use relative scales.\n";
    print_matrix(os, std::string("X: one embedding per token") + (c.positional ? " (plus position encoding)" : ""),
                 "token", s.tokens, xs, s.x, o.digits);
    for (int h = 0; h < c.heads; ++h) {
      const lab::Head& hd = s.heads[static_cast<std::size_t>(h)];
      if (c.heads > 1) os << "\n### Head " << h + 1 << "\n";
      print_matrix(os, "Q = X W_Q", "token", s.tokens, qs, hd.q, o.digits);
      print_matrix(os, "K = X W_K", "token", s.tokens, ks, hd.k, o.digits);
      print_matrix(os, "V = X W_V", "token", s.tokens, vs, hd.v, o.digits);
      print_matrix(os,
                   "scores = Q K\u1d40 / \u221ad_k  (\u221a" + std::to_string(c.dk) + " = " +
                       fixed(std::sqrt(static_cast<double>(c.dk)), 3) + "; row: query, column: key" +
                       (c.causal ? "; \u00b7 = masked" : "") + ")",
                   "query \\ key", s.tokens, s.tokens, hd.scores, o.digits, &c);
      print_matrix(os, "weights = softmax(scores), from the engine (kernel " + res.kernel + ")", "query \\ key",
                   s.tokens, s.tokens, hd.weights, o.digits, &c, true);
      print_matrix(os, "output = weights \u00b7 V, from the engine", "token", s.tokens, os_cols, hd.output, o.digits);
      os << "\nCheck: the engine's weights against a softmax of the scores above, max |difference| = "
         << sci(hd.max_softmax_check) << "\n";
      if (colour) os << "\n" << ansi_heatmap(picture_of(s, h, c), true);
      print_reflection(os, s, hd.weights, res.reflections[si][static_cast<std::size_t>(h)], o.digits);
    }
  }
  for (const lab::Comparison& cmp : res.comparisons) {
    const auto& a = res.sentences[static_cast<std::size_t>(cmp.a)];
    const auto& b = res.sentences[static_cast<std::size_t>(cmp.b)];
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
  for (std::size_t pi = 0; pi < res.predictions.size(); ++pi) {
    const lab::Prediction& p = res.predictions[pi];
    const lab::PredictionReport& r = res.reports[pi];
    const lab::Sentence& s = res.sentences[static_cast<std::size_t>(r.sentence)];
    const Matrix& w = s.heads[0].weights;
    os << "\n## Prediction " << p.path << " vs computed: " << quoted(s.text) << (c.heads > 1 ? " (head 1)" : "")
       << "\n\n";
    std::vector<std::string> header{"query"};
    for (const auto& t : s.tokens) header.push_back("predicted " + t);
    for (const auto& t : s.tokens) header.push_back("computed " + t);
    for (const auto& t : s.tokens) header.push_back("difference " + t);
    Table t(header);
    const int n = w.rows;
    for (int i = 0; i < n; ++i) {
      std::vector<std::string> cells{s.tokens[static_cast<std::size_t>(i)]};
      for (int j = 0; j < n; ++j) cells.push_back(fixed(p.weights.at(i, j), o.digits));
      for (int j = 0; j < n; ++j) cells.push_back(fixed(w.at(i, j), o.digits));
      for (int j = 0; j < n; ++j) {
        const double d = static_cast<double>(w.at(i, j)) - p.weights.at(i, j);
        cells.push_back((d >= 0 ? "+" : "") + fixed(d, o.digits));
      }
      t.add_row(cells);
    }
    t.print(os);
    os << "\n(difference = computed - predicted)\n\n";
    Table tops({"query", "predicted top key", "computed top key", "same?"});
    for (int i = 0; i < n; ++i)
      tops.add_row({s.tokens[static_cast<std::size_t>(i)], s.tokens[static_cast<std::size_t>(r.predicted_top[i])],
                    s.tokens[static_cast<std::size_t>(r.computed_top[i])],
                    r.predicted_top[i] == r.computed_top[i] ? "yes" : "no"});
    tops.print(os);
    os << "\nMean |difference| " << fixed(r.mean_abs_diff, o.digits) << ", largest " << fixed(r.max_abs_diff, o.digits)
       << "; top key right for " << r.agreeing_tops << " of " << n << " words.\n";
  }
  if (!res.files.empty()) {
    os << "\n## Pictures\n\n";
    for (const auto& f : res.files) os << f << "\n";
  }
}

void print_json(std::ostream& os, const LabOptions& o, const Results& res) {
  const lab::Config& c = o.config;
  Json j;
  j.begin_object().field("attnlab_version", attn::version()).field("seed", static_cast<long long>(c.seed));
  j.field("dim", c.dim).field("dk", c.dk).field("dv", c.dv).field("heads", c.heads);
  j.field("kernel", c.kernel).field("kernel_used", res.kernel).field("causal", c.causal);
  j.field("positional", c.positional);
  j.field("embeddings", c.embeddings_file.empty() ? std::string("seeded") : c.embeddings_file);
  j.key("sentences").begin_array();
  for (std::size_t si = 0; si < res.sentences.size(); ++si) {
    const lab::Sentence& s = res.sentences[si];
    j.begin_object().field("text", s.text);
    json_strings(j, "tokens", s.tokens);
    json_matrix(j, "x", s.x);
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
      json_matrix(j, "weights", hd.weights);
      json_matrix(j, "output", hd.output);
      j.field("softmax_check_max_abs", hd.max_softmax_check);
      const lab::Reflection& r = res.reflections[si][static_cast<std::size_t>(h)];
      j.key("reflection").begin_object().key("words").begin_array();
      for (std::size_t i = 0; i < r.words.size(); ++i) {
        const auto& f = r.words[i];
        j.begin_object().field("word", s.tokens[i]).field("top_key", s.tokens[static_cast<std::size_t>(f.top_key)]);
        j.field("top_weight", f.top_weight).field("self_weight", f.self_weight);
        j.field("entropy_bits", f.entropy_bits).field("max_entropy_bits", f.max_entropy_bits).end_object();
      }
      j.end_array().field("focuses_most_on_others", s.tokens[static_cast<std::size_t>(r.most_outward)]);
      j.field("symmetry_max_abs", r.symmetry_max);
      j.key("most_asymmetric_pair").begin_array().value(s.tokens[static_cast<std::size_t>(r.asym_i)]);
      j.value(s.tokens[static_cast<std::size_t>(r.asym_j)]).end_array().end_object();
      j.end_object();
    }
    j.end_array().end_object();
  }
  j.end_array().key("comparisons").begin_array();
  for (const auto& cmp : res.comparisons) {
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
  for (std::size_t pi = 0; pi < res.predictions.size(); ++pi) {
    const auto& p = res.predictions[pi];
    const auto& r = res.reports[pi];
    const auto& s = res.sentences[static_cast<std::size_t>(r.sentence)];
    j.begin_object().field("file", p.path).field("sentence", r.sentence + 1);
    json_matrix(j, "predicted", p.weights);
    j.key("predicted_top").begin_array();
    for (int t : r.predicted_top) j.value(s.tokens[static_cast<std::size_t>(t)]);
    j.end_array().key("computed_top").begin_array();
    for (int t : r.computed_top) j.value(s.tokens[static_cast<std::size_t>(t)]);
    j.end_array().field("mean_abs_difference", r.mean_abs_diff).field("max_abs_difference", r.max_abs_diff);
    j.end_object();
  }
  j.end_array();
  json_strings(j, "files", res.files);
  j.end_object();
  os << j.str() << "\n";
}

/// The heatmap and arrows SVGs of every sentence and head, and lab.html, into --out.
void write_pictures(const LabOptions& o, const ArrowOptions& arrows, Results& res) {
  const lab::Config& c = o.config;
  try {
    ensure_directory(o.out);
    std::vector<std::vector<AttentionPicture>> pics;
    std::vector<std::string> texts;
    for (std::size_t si = 0; si < res.sentences.size(); ++si) {
      const auto& s = res.sentences[si];
      texts.push_back(s.text);
      pics.emplace_back();
      for (int h = 0; h < c.heads; ++h) {
        AttentionPicture p = picture_of(s, h, c);
        const std::string base = o.out + "/" + slug(s.text, static_cast<int>(si)) + "-h" + std::to_string(h + 1);
        write_file_atomic(base + "-heatmap.svg", svg_heatmap(p));
        write_file_atomic(base + "-arrows.svg", svg_arrows(p, arrows));
        res.files.push_back(base + "-heatmap.svg");
        res.files.push_back(base + "-arrows.svg");
        pics.back().push_back(std::move(p));
      }
    }
    write_file_atomic(o.out + "/lab.html", html_report(pics, texts, arrows));
    res.files.push_back(o.out + "/lab.html");
  } catch (const std::invalid_argument& e) {  // files.hpp names the path; say which option gave it
    throw std::invalid_argument(std::string("--out: ") + e.what());
  }
}

void run_lab_command(LabOptions& o) {
  if (o.digits < 0 || o.digits > 9)
    throw std::invalid_argument("--digits: must be in [0, 9], got " + std::to_string(o.digits));
  if (o.arrows.top_k < 0) throw std::invalid_argument("--top-k: must be >= 0, got " + std::to_string(o.arrows.top_k));
  if (!(o.arrows.min_weight >= 0 && o.arrows.min_weight <= 1))
    throw std::invalid_argument("--min-weight: must be in [0, 1], got " + std::to_string(o.arrows.min_weight));
  if (o.color && o.no_color) throw std::invalid_argument("--color and --no-color: choose one");
  // Predictions are read before anything is computed: a bad table fails fast.
  Results res;
  for (const auto& path : o.predict) res.predictions.push_back(lab::read_prediction(path));
  if (!o.config.embeddings_file.empty() && o.dim_given) {
    const lab::EmbeddingTable t = lab::read_embeddings(o.config.embeddings_file, o.config.vocab_file);
    if (t.dim != o.config.dim)
      throw std::invalid_argument("--dim " + std::to_string(o.config.dim) + " disagrees with --embeddings " +
                                  o.config.embeddings_file + ", whose vectors have " + std::to_string(t.dim) +
                                  " numbers (leave --dim out to take the file's)");
  }
  res.sentences = lab::run_lab(o.sentences, o.config);
  res.kernel = lab::resolved_kernel(res.sentences[0], o.config);
  const lab::Config& c = o.config;
  for (const auto& s : res.sentences) {
    res.reflections.emplace_back();
    for (int h = 0; h < c.heads; ++h)
      res.reflections.back().push_back(lab::reflect(s.heads[static_cast<std::size_t>(h)].weights, c));
  }
  for (int b = 1; b < static_cast<int>(res.sentences.size()); ++b)
    for (int h = 0; h < c.heads; ++h) res.comparisons.push_back(lab::compare_shared(res.sentences, 0, b, h));
  for (const auto& p : res.predictions) {
    const int s = lab::match_sentence(p, res.sentences);
    res.reports.push_back(lab::compare_prediction(p, s, res.sentences[static_cast<std::size_t>(s)].heads[0].weights));
  }

  bool long_input = false;
  for (const auto& s : res.sentences) long_input |= static_cast<int>(s.tokens.size()) > kLongInputTokens;
  ArrowOptions arrows = o.arrows;
  if (long_input && !o.top_k_given) {
    arrows.top_k = 3;
    std::cerr << "lab: note: more than " << kLongInputTokens
              << " tokens: arrows are thinned to each word's 3 strongest (--top-k to change), pictures use relative "
                 "scales and leave values out of small cells\n";
  }
  if (!o.no_pictures) write_pictures(o, arrows, res);
  if (o.json)
    print_json(std::cout, o, res);
  else
    print_text(std::cout, o, res, o.color || (!o.no_color && stdout_wants_colour(false)));
}

}  // namespace

void add_lab_command(CLI::App& app) {
  auto o = std::make_shared<LabOptions>();
  CLI::App* cmd = app.add_subcommand(
      "lab",
      "The attention lab: sentences -> embeddings -> Q, K, V -> weights, step by step, with predictions, "
      "reflection numbers, heatmaps and arrows");
  cmd->footer(
      "\nExamples:\n"
      "  attnlab lab \"I love AI\"\n"
      "  attnlab lab \"I love AI\" \"AI loves me\" \"I love AI deeply\" --out pictures\n"
      "  attnlab lab \"I love AI\" --predict my-guess.csv\n"
      "  attnlab lab \"Birds can fly\" --heads 2 --causal --json\n"
      "\nThe weights come from the engine: attention is run once with V = the identity\n"
      "(row i of softmax(S)·I is row i of softmax(S)) and once with the real V.");
  cmd->add_option("sentences", o->sentences, "One or more sentences (quote each)")->required();
  cmd->add_option("--seed", o->config.seed, "Seed of the embeddings and W_Q, W_K, W_V")->capture_default_str();
  cmd->add_option("--dim", o->config.dim, "Embedding size d_model (taken from --embeddings when given)")
      ->capture_default_str()
      ->each([o](const std::string&) { o->dim_given = true; });
  cmd->add_option("--dk", o->config.dk, "Query/key size d_k per head")->capture_default_str();
  cmd->add_option("--dv", o->config.dv, "Value size d_v per head")->capture_default_str();
  cmd->add_option("--heads", o->config.heads, "Attention heads (each with its own W_Q, W_K, W_V)")
      ->capture_default_str();
  cmd->add_option("--kernel", o->config.kernel, "Engine kernel: a registered name or auto")->capture_default_str();
  cmd->add_flag("--causal", o->config.causal, "Mask later words: query i sees keys 1..i");
  cmd->add_flag("--positional", o->config.positional, "Add sinusoidal position encodings to X (word order matters)");
  cmd->add_option("--embeddings", o->config.embeddings_file,
                  "CSV of 'word,x1,...,xd' rows (optional header 'word,...'), or a .npy [words, d] with --vocab");
  cmd->add_option("--vocab", o->config.vocab_file,
                  "The words of a .npy --embeddings file, one per line (line i: row i)");
  cmd->add_option("--wq", o->config.wq_file, "CSV or .npy of W_Q: heads*d_model rows, d_k columns, heads stacked");
  cmd->add_option("--wk", o->config.wk_file, "CSV or .npy of W_K: heads*d_model rows, d_k columns");
  cmd->add_option("--wv", o->config.wv_file, "CSV or .npy of W_V: heads*d_model rows, d_v columns");
  cmd->add_option("--predict", o->predict,
                  "CSV of your predicted weights: header ',w1,...,wn', then 'word,p1,...,pn' per word; "
                  "repeatable, matched to the sentence with those words")
      ->allow_extra_args(false);  // one file per --predict, so sentences may follow it
  cmd->add_flag("--json", o->json, "Print everything as JSON instead of tables");
  cmd->add_option("--out", o->out, "Directory for the SVG pictures and lab.html")->capture_default_str();
  cmd->add_flag("--no-pictures", o->no_pictures, "Write no files");
  cmd->add_option("--top-k", o->arrows.top_k, "Arrows: keep each word's k strongest (0 = all)")
      ->capture_default_str()
      ->each([o](const std::string&) { o->top_k_given = true; });
  cmd->add_option("--min-weight", o->arrows.min_weight, "Arrows: drop weights below this")->capture_default_str();
  cmd->add_flag("--no-color", o->no_color,
                "No ANSI colour heatmap (also off when stdout is not a terminal or NO_COLOR is set)");
  cmd->add_flag("--color", o->color, "Draw the ANSI colour heatmap even when stdout is not a terminal");
  cmd->add_option("--digits", o->digits, "Decimals in the tables")->capture_default_str();
  cmd->callback([o] { run_lab_command(*o); });
}

}  // namespace attnlab
