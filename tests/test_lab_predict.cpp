// Part 1 of the lab: the predicted-table checker accepts exactly the tables
// the exercise describes and names the offending row otherwise.
#include "lab_model.hpp"
#include "lab_predict.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

using attnlab::lab::parse_prediction;

void expect_rejected(const std::string& csv, const std::string& needle) {
  try {
    parse_prediction(csv, "guess.csv");
    ADD_FAILURE() << "accepted:\n" << csv;
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
    EXPECT_NE(std::string(e.what()).find("--predict guess.csv"), std::string::npos) << e.what();
  }
}

const char* kGood =
    "From \xe2\x86\x92 To,I,love,AI\n"
    "I,0.25,0.35,0.40\n"
    "love,0.30,0.30,0.40\n"
    "AI,0.20,0.40,0.40\n";

TEST(LabPredict, AcceptsTheExerciseTable) {
  const auto p = parse_prediction(kGood, "guess.csv");
  EXPECT_EQ(p.words, (std::vector<std::string>{"I", "love", "AI"}));
  EXPECT_FLOAT_EQ(p.weights.at(1, 2), 0.40f);
  // Within the 0.01 tolerance, comments and blank lines allowed.
  EXPECT_NO_THROW(parse_prediction("# my guess\n,I,love\n\nI,0.5,0.505\nlove,0.2,0.79\n", "g"));
}

TEST(LabPredict, RejectsWithTheRowNamed) {
  expect_rejected(",I,love,AI\nI,0.25,0.35,0.40\nlove,0.30,0.30,0.35\nAI,0.2,0.4,0.4\n",
                  "row 2 ('love'): the values sum to 0.9500, not 1.0");
  expect_rejected(",I,love\nI,1.2,-0.2\nlove,0.5,0.5\n", "row 1 ('I'), column 'I': 1.2 is outside [0, 1]");
  expect_rejected(",I,love\nI,0.5,0.5\nlove,0.5,abc\n", "row 2 ('love'), column 'love': 'abc' is not a finite number");
  expect_rejected(",I,love\nI,0.5,0.5\nlove,0.5,nan\n", "'nan' is not a finite number");
  expect_rejected(",I,love,AI\nI,0.5,0.5,0\nlove,0.5,0.5,0\n", "must be square: 3 words in the header but 2 rows");
  expect_rejected(",I,love\nI,0.5,0.5\nAI,0.5,0.5\n", "row 2 ('AI'): the row is labelled 'AI' but column 2 is 'love'");
  expect_rejected(",I,love\nI,0.5,0.5\nlove,1\n", "row 2 ('love'): 1 values, expected 2");
  expect_rejected(",I,love\n", "expected a header row of words and one row per word");
  expect_rejected("", "found 0 row(s)");
  expect_rejected("corner\nI\n", "the header row has no words");
  expect_rejected(",I,\nI,1,0\n,0,1\n", "header column 3 has no word");
  expect_rejected(",I,love\nI,0.5,0.5\nlove,0.5,0.5,\n", "3 values, expected 2");  // a trailing comma is an empty cell
}

TEST(LabPredict, MatchesTheSentenceWithItsWordsAndComparesTops) {
  attnlab::lab::Config c;
  const auto s = attnlab::lab::run_lab({"AI loves me", "I love AI"}, c);
  const auto p = parse_prediction(kGood, "guess.csv");
  EXPECT_EQ(attnlab::lab::match_sentence(p, s), 1);
  const auto r = attnlab::lab::compare_prediction(p, 1, s[1].heads[0].weights);
  ASSERT_EQ(r.predicted_top, (std::vector<int>{2, 2, 1}));
  double mean = 0, mx = 0;
  int agree = 0;
  for (int i = 0; i < 3; ++i) {
    int top = 0;
    for (int j = 0; j < 3; ++j) {
      const double d = std::abs(static_cast<double>(p.weights.at(i, j)) - s[1].heads[0].weights.at(i, j));
      mean += d / 9, mx = std::max(mx, d);
      if (s[1].heads[0].weights.at(i, j) > s[1].heads[0].weights.at(i, top)) top = j;
    }
    EXPECT_EQ(r.computed_top[static_cast<std::size_t>(i)], top);
    agree += top == r.predicted_top[static_cast<std::size_t>(i)];
  }
  EXPECT_NEAR(r.mean_abs_diff, mean, 1e-12);
  EXPECT_EQ(r.max_abs_diff, mx);
  EXPECT_EQ(r.agreeing_tops, agree);
  EXPECT_EQ(std::count(r.top_agrees.begin(), r.top_agrees.end(), 1), agree);
  const auto other = parse_prediction(",Birds,can,fly\nBirds,1,0,0\ncan,0,1,0\nfly,0,0,1\n", "birds.csv");
  try {
    attnlab::lab::match_sentence(other, s);
    ADD_FAILURE() << "matched a sentence without those words";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "its words (Birds can fly) are not the tokens of any sentence given (AI loves me; I love AI)"),
              std::string::npos)
        << e.what();
  }
}

TEST(LabPredict, TheRightWordsInAnotherOrderAreMatchedAndAligned) {
  attnlab::lab::Config c;
  const auto s = attnlab::lab::run_lab({"AI loves me", "I love AI"}, c);
  const auto p = parse_prediction(",AI,I,love\nAI,0.1,0.2,0.7\nI,0.3,0.3,0.4\nlove,0.5,0.25,0.25\n", "any.csv");
  const auto m = attnlab::lab::match_prediction(p, s);
  EXPECT_EQ(m.sentence, 1);
  EXPECT_TRUE(m.reordered);
  EXPECT_EQ(m.order, (std::vector<int>{1, 2, 0}));
  const auto a = attnlab::lab::aligned(p, m, s[1].tokens);
  EXPECT_FLOAT_EQ(a.weights.at(0, 1), 0.4f) << "I -> love";
  EXPECT_FLOAT_EQ(a.weights.at(2, 0), 0.2f) << "AI -> I";
  EXPECT_FLOAT_EQ(a.weights.at(1, 2), 0.5f) << "love -> AI";
  // The same order is preferred when two sentences have the same words.
  const auto t = attnlab::lab::run_lab({"AI love I", "I love AI"}, c);
  EXPECT_EQ(attnlab::lab::match_prediction(parse_prediction(kGood, "g"), t).sentence, 1);
  EXPECT_FALSE(attnlab::lab::match_prediction(parse_prediction(kGood, "g"), t).reordered);
  // A repeated word: its rows are taken in the file's order.
  const auto r = attnlab::lab::run_lab({"the cat the"}, c);
  const auto rp = parse_prediction(",cat,the,The\ncat,0,0.5,0.5\nthe,1,0,0\nThe,0,0,1\n", "r");
  EXPECT_EQ(attnlab::lab::match_prediction(rp, r).order, (std::vector<int>{1, 0, 2}));
}

TEST(LabPredict, CausalGuessesOnHiddenKeysAreFlaggedAndEveryHeadCompared) {
  attnlab::lab::Config c;
  c.causal = true;
  c.heads = 2;
  const auto s = attnlab::lab::run_lab({"I love AI"}, c);
  const auto p = parse_prediction(kGood, "guess.csv");
  for (int h = 0; h < 2; ++h) {
    const auto r = attnlab::lab::compare_prediction(p, 0, s[0].heads[static_cast<std::size_t>(h)].weights, c, h);
    EXPECT_EQ(r.head, h);
    // kGood puts weight on I -> love, I -> AI and love -> AI: all three are hidden.
    ASSERT_EQ(r.on_masked.size(), 3u);
    EXPECT_EQ(r.on_masked[0].query, 0);
    EXPECT_EQ(r.on_masked[0].key, 1);
    EXPECT_DOUBLE_EQ(r.on_masked[0].weight, 0.35f);
    EXPECT_EQ(r.computed_top[0], 0) << "the first word sees only itself";
  }
}

TEST(LabPredict, TheTemplateParsesAndRespectsTheMask) {
  attnlab::lab::Config c;
  const std::vector<std::string> words{"The", "cat", "sat", "on", "the", "mat", ",", "#1", "\"q\""};
  const auto p = parse_prediction(attnlab::lab::prediction_template(words, c), "t.csv");
  EXPECT_EQ(p.words, words);
  for (int i = 0; i < 9; ++i) {
    double sum = 0;
    for (int j = 0; j < 9; ++j) sum += p.weights.at(i, j);
    EXPECT_NEAR(sum, 1.0, 1e-6);
  }
  c.causal = true;
  const auto q = parse_prediction(attnlab::lab::prediction_template(words, c), "t.csv");
  for (int i = 0; i < 9; ++i)
    for (int j = 0; j < 9; ++j) EXPECT_EQ(q.weights.at(i, j) == 0.0f, j > i) << i << "," << j;
  EXPECT_FLOAT_EQ(q.weights.at(0, 0), 1.0f);
}

}  // namespace
