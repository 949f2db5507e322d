// Part 1 of the lab: a hand-made prediction of the attention weights, checked
// and set beside the computed weights.
#pragma once

#include "lab_model.hpp"

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

/// The sentence whose tokens are the prediction's words (case-insensitive);
/// throws std::invalid_argument naming the file when there is none.
int match_sentence(const Prediction& p, const std::vector<Sentence>& sentences);

struct PredictionReport {
  int sentence = 0;
  std::vector<int> predicted_top, computed_top;  ///< per query word: argmax key
  double mean_abs_diff = 0, max_abs_diff = 0;
  int agreeing_tops = 0;
};

PredictionReport compare_prediction(const Prediction& p, int sentence, const Matrix& computed);

}  // namespace attnlab::lab
