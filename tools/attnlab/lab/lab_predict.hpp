// Part 1 of the lab: a hand-made prediction of the attention weights, checked
// and set beside the computed weights.
#pragma once

#include "lab_model.hpp"
#include "lab_reflect.hpp"

#include <string>
#include <vector>

namespace attnlab::lab {

/// A predicted weight table: a header row of key words (after a corner cell),
/// then one row per query word: "word,w1,...,wn".
struct Prediction {
  std::string path;
  std::vector<std::string> words;
  Matrix weights;
};

/// Rows must sum to 1 within this.
inline constexpr double kPredictionSumTolerance = 0.01;

/// Parses and checks a prediction: square, the same words on both axes, every
/// value a number in [0, 1], every row summing to 1 within kPredictionSumTolerance.
/// Throws std::invalid_argument naming `name` and the offending row.
Prediction parse_prediction(const std::string& csv_text, const std::string& name);
Prediction read_prediction(const std::string& path);

/// Which sentence a prediction is about, and where each of the sentence's tokens is in the file.
struct PredictionMatch {
  int sentence = 0;
  std::vector<int> order;  ///< order[i]: the file's row (and column) for the sentence's token i
  bool reordered = false;  ///< the file lists the words in another order than the sentence
};

/// The sentence whose tokens are the prediction's words (case-insensitive), in the same order
/// or, failing that, in any order (a repeated word's rows are taken in the file's order). A sentence
/// with the same order is preferred. Throws std::invalid_argument naming the file when there is none.
PredictionMatch match_prediction(const Prediction& p, const std::vector<Sentence>& sentences);
/// match_prediction(p, sentences).sentence.
int match_sentence(const Prediction& p, const std::vector<Sentence>& sentences);

/// The prediction with its rows and columns put in the sentence's order.
Prediction aligned(const Prediction& p, const PredictionMatch& m, const std::vector<std::string>& tokens);

/// A predicted weight on a key that the causal mask hides from the query: the model can never put weight there.
struct MaskedGuess {
  int query = 0, key = 0;
  double weight = 0;
};

struct PredictionReport {
  int sentence = 0, head = 0;
  std::vector<int> predicted_top, computed_top;                 ///< per query word: argmax key (the first of ties)
  std::vector<std::vector<int>> predicted_ties, computed_ties;  ///< per query word: the other keys tied with it
  double mean_abs_diff = 0, max_abs_diff = 0;  ///< over every cell (a masked cell's computed weight is 0)
  std::vector<char> top_agrees;        ///< per query word: predicted and computed top keys (ties included) share a key
  int agreeing_tops = 0;               ///< how many rows agree
  std::vector<MaskedGuess> on_masked;  ///< predicted weight > 0 where the mask hides the key
};

/// `p` must be aligned to the sentence (see aligned()); `computed` is one head's weights.
PredictionReport compare_prediction(const Prediction& p, int sentence, const Matrix& computed,
                                    const Config& config = {}, int head = 0);

/// A table to fill in for `tokens`, in the format parse_prediction reads: a comment saying how,
/// the header row, and one row per word holding an even split (so that it parses as it is);
/// under a causal mask the hidden keys hold 0 and the split is over the visible ones.
std::string prediction_template(const std::vector<std::string>& tokens, const Config& config);

}  // namespace attnlab::lab
