// The attention lab's model: sentences -> tokens -> embeddings X -> Q, K, V
// projections -> attention through the engine. Everything a student computes
// by hand in the lab, kept in plain row-major matrices so it can be printed.
#pragma once

#include "lab_vectors.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace attnlab::lab {

/// A dense row-major fp32 matrix with optional row/column labels.
struct Matrix {
  int rows = 0, cols = 0;
  std::vector<float> v;
  Matrix() = default;
  Matrix(int r, int c) : rows(r), cols(c), v(static_cast<std::size_t>(r) * c, 0.0f) {}
  float& at(int r, int c) { return v[static_cast<std::size_t>(r) * cols + c]; }
  float at(int r, int c) const { return v[static_cast<std::size_t>(r) * cols + c]; }
};

/// Splits on whitespace; every ASCII punctuation character is a token of its
/// own, except an apostrophe between two letters ("don't" stays one word).
std::vector<std::string> tokenize(const std::string& sentence);

/// ASCII lower case: the key under which a word's embedding is looked up.
std::string lower(const std::string& word);

struct Config {
  int dim = 4;  ///< embedding size d_model
  int dk = 4;   ///< query/key size per head
  int dv = 4;   ///< value size per head
  int heads = 1;
  std::uint64_t seed = 1;
  std::string kernel = "auto";
  bool causal = false;                    ///< query i sees keys 0..i (top-left)
  bool positional = false;                ///< add sinusoidal position encodings to X
  std::string embeddings_file;            ///< CSV "word,x1,...,xd" or .npy [words, d]; empty = seeded
  std::string vocab_file;                 ///< the words of a .npy embeddings file, one per line
  std::string wq_file, wk_file, wv_file;  ///< CSV or .npy [heads*dim, dk|dv]; empty = from `projection`
  /// "random" (seeded), "identity" (W = I, so d_k = d_v = d_model and Q = K = V = X), or a CSV/.npy
  /// file [heads*dim, d] used for all three; --wq/--wk/--wv override it one by one.
  std::string projection = "random";
};

/// Seeded embedding of one word: uniform [-1, 1), a function of
/// (lower-cased word, seed) only, so a word has the same vector in every sentence.
std::vector<float> seeded_embedding(const std::string& word, int dim, std::uint64_t seed);

/// Seeded projection matrix `name` ("W_Q", "W_K", "W_V") of head `head`:
/// [dim, cols] uniform in [-1, 1), times 2/√dim past dim = 4 so that Q and K keep the
/// size of X for wide embeddings (100-d word vectors) instead of saturating the softmax.
Matrix seeded_projection(const std::string& name, int head, int dim, int cols, std::uint64_t seed);

/// Embeddings read from a CSV file: one row per word, "word,x1,...,xd", an
/// optional header row whose first cell is "word" or "token". Or from a .npy
/// array [words, d] with a vocabulary file naming its rows, one word per line
/// (the usual vectors.npy + vocab.txt export).
/// Or from a memory-mapped vector file (lab_vectors.hpp): "glove" names the converted GloVe
/// vectors (see glove_path()), a path ending in .emb any such file.
struct EmbeddingTable {
  std::string path;
  int dim = 0;
  std::vector<std::string> words;  ///< lower-cased
  std::vector<std::vector<float>> vectors;
  std::shared_ptr<const VectorFile> file;  ///< set for "glove" and .emb files (words/vectors stay empty)
  /// The word's vector; throws std::invalid_argument naming the word, the file and the
  /// nearest spellings the vocabulary has.
  std::vector<float> lookup(const std::string& word) const;
};
EmbeddingTable read_embeddings(const std::string& path, const std::string& vocab_path = "");

/// A numeric matrix from a CSV file (no header) or a 2-D .npy file; throws
/// naming `what` and the path on any bad cell, shape or non-finite value.
Matrix read_matrix(const std::string& path, const std::string& what);

/// cos(x_i, x_j) = x_i·x_j / (|x_i| |x_j|) for every pair of rows, in fp64; 0 where a row is all zeros.
Matrix cosine_similarity(const Matrix& x);

/// sin/cos position encodings (Vaswani et al.): PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(...).
Matrix positional_encoding(int tokens, int dim);

/// Projections and attention of one head.
struct Head {
  Matrix wq, wk, wv;             ///< [dim, dk], [dim, dk], [dim, dv]
  Matrix q, k, v;                ///< X W_Q, X W_K, X W_V (fp32, accumulated in fp64)
  Matrix scores;                 ///< Q Kᵀ / √d_k (fp64 then rounded; masked cells -inf)
  Matrix exps;                   ///< exp(score - its row's largest score), fp64 then rounded; masked cells 0
  std::vector<double> row_max;   ///< per query: the largest visible score (subtracted before exp)
  std::vector<double> row_sum;   ///< per query: Σ exps over the visible keys (fp64)
  Matrix weights;                ///< softmax(scores) from the engine (V = identity)
  Matrix output;                 ///< weights · V from the engine (the real V)
  double max_softmax_check = 0;  ///< max |engine weights - softmax(printed scores)|
};

struct Sentence {
  std::string text;
  std::vector<std::string> tokens;
  Matrix x;       ///< [tokens, dim] embeddings (plus position encodings if asked)
  Matrix cosine;  ///< [tokens, tokens] cos(x_i, x_j) in fp64: how alike two words' vectors are (0 for a zero vector)
  std::vector<Head> heads;
};

/// True where query i may not see key j (only with causal).
inline bool masked(const Config& c, int i, int j) {
  return c.causal && j > i;
}

/// Tokenises and embeds one sentence (no attention yet). Throws std::invalid_argument
/// when the sentence has no tokens or a word is missing from the embedding table.
Sentence embed(const std::string& text, const Config& config, const EmbeddingTable* table);

/// The weight matrices of every head: from the files in `config` or seeded.
/// Files hold the heads stacked vertically, [heads*dim, dk] (or dv).
struct Projections {
  std::vector<Matrix> wq, wk, wv;
};
Projections make_projections(const Config& config);

/// Q, K, V, the scores, and the engine's weights and output for every head.
/// The weights come from attn::attention with V = the identity (row i of
/// softmax(S)·I is row i of softmax(S)); the output from a second call with the real V.
void compute(Sentence& s, const Projections& p, const Config& config);

/// Name of the kernel `config.kernel` resolves to for this sentence.
std::string resolved_kernel(const Sentence& s, const Config& config);

/// The whole lab for several sentences (validates the configuration first).
/// With an embeddings file, config.dim becomes the file's dimension.
std::vector<Sentence> run_lab(const std::vector<std::string>& sentences, Config& config);

/// "x1", "x2", ...: labels for the columns of X, Q, K, V and the output.
std::vector<std::string> numbered(const std::string& prefix, int n);

/// Σ of each row (the "row sum" column of the weights).
std::vector<double> row_sums(const Matrix& m);

/// Tables of more than this many rows or columns (W or X of 100-d word vectors) show their
/// corner and say so; the full numbers are in --json.
inline constexpr int kShownCells = 12;

/// Checks the configuration; throws std::invalid_argument naming the option.
void validate(const Config& config);

/// The width of the vectors in an embeddings file (reads it).
int embeddings_dim(const std::string& path, const std::string& vocab_path);

/// How X and how W_Q, W_K, W_V were made, in a few words, for the reports.
std::string describe_embeddings(const Config& config);
std::string describe_projections(const Config& config);

}  // namespace attnlab::lab
