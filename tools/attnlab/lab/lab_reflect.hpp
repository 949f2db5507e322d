// The lab's reflection questions as numbers: where each word looks, how spread
// its focus is, whether attention is symmetric, and how shared words change
// between sentences.
#pragma once

#include "lab_model.hpp"

#include <string>
#include <vector>

namespace attnlab::lab {

/// Two weights closer than this are a tie: identical words ("The" and "the" share an
/// embedding) give bit-identical weights, and no printed digit could tell them apart.
inline constexpr double kTieTolerance = 1e-6;

struct WordFocus {
  int top_key = 0;             ///< argmax of the row (the first of tied keys)
  std::vector<int> tied_keys;  ///< other keys within kTieTolerance of the top weight (said, never picked silently)
  double top_weight = 0;
  double self_weight = 0;
  double entropy_bits = 0;      ///< -Σ w log2 w over the row
  double max_entropy_bits = 0;  ///< log2(visible keys): the entropy of a uniform row
};

struct Reflection {
  std::vector<WordFocus> words;
  int most_outward = 0;  ///< the word with the largest weight on other words (1 - self)
  /// Pairs of different words (i < j) that are each other's top key: the words that focus on each other.
  /// A tied top counts: j is among i's top keys and i among j's.
  std::vector<std::pair<int, int>> mutual;
  /// Symmetry asks for W[i][j] and W[j][i] both; under a causal mask one of them is always hidden,
  /// so there is nothing to compare (symmetry_pairs = 0) rather than a comparison with a masked 0.
  int symmetry_pairs = 0;      ///< pairs i < j with both directions visible
  double symmetry_max = 0;     ///< max |W - Wᵀ| over those pairs
  int asym_i = 0, asym_j = 0;  ///< the pair where it is reached (W[i][j] vs W[j][i]), i < j
};

Reflection reflect(const Matrix& weights, const Config& config);

/// One (from, to) pair of words that two sentences share, with both weights.
struct SharedPair {
  std::string from, to;
  double first = 0, second = 0;  ///< weight from -> to in sentence a, in sentence b
};

struct Comparison {
  int a = 0, b = 0;  ///< sentence indices
  int head = 0;
  std::vector<std::string> shared;  ///< shared words (lower-cased), in a's order
  std::vector<SharedPair> pairs;
};

/// Weights among the words sentences a and b share (matched lower-cased, first
/// occurrence of a repeated word), for one head.
Comparison compare_shared(const std::vector<Sentence>& s, int a, int b, int head);

}  // namespace attnlab::lab
