// Everything one `attnlab lab` run computed, in one place, so that the text,
// the JSON and the HTML notebook are written from the same numbers.
#pragma once

#include "lab_model.hpp"
#include "lab_predict.hpp"
#include "lab_reflect.hpp"

#include <string>
#include <vector>

namespace attnlab::lab {

struct Session {
  Config config;
  std::string embeddings;   ///< how X was made, in words
  std::string projections;  ///< how W_Q, W_K, W_V were made, in words
  std::string kernel;       ///< the kernel that ran
  std::vector<Sentence> sentences;
  std::vector<std::vector<Reflection>> reflections;    ///< [sentence][head]
  std::vector<Comparison> comparisons;                 ///< sentence 1 against each other one, per head
  std::vector<Prediction> predictions;                 ///< as read, in the file's order
  std::vector<PredictionMatch> matches;                ///< [prediction]
  std::vector<Prediction> aligned;                     ///< [prediction], in its sentence's order
  std::vector<std::vector<PredictionReport>> reports;  ///< [prediction][head]
};

/// Runs the lab on `sentences` (see run_lab), reflects on every head, compares sentence 1
/// with each other one, and matches and scores every prediction against every head.
/// Throws std::invalid_argument on bad input (naming the option or file).
Session make_session(const std::vector<std::string>& sentences, Config config, std::vector<Prediction> predictions);

}  // namespace attnlab::lab
