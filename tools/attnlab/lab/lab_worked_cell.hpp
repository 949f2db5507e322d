// One cell of the weights table worked out by hand: the dot product of a query
// and a key term by term, the scaling, the shift by the row's largest score,
// the exp, the row sum and the division. The lab prints it so that a student
// can redo one number with a calculator and see it match.
#pragma once

#include "lab_model.hpp"

#include <string>
#include <vector>

namespace attnlab::lab {

struct WorkedCell {
  int query = 0, key = 0;
  std::vector<double> q, k;  ///< the query's row of Q and the key's row of K
  double dot = 0, sqrt_dk = 0, score = 0, row_max = 0, exp_value = 0, row_sum = 0;
  double weight = 0;             ///< exp_value / row_sum, in fp64
  double engine = 0;             ///< the engine's weight for the cell
  std::vector<double> row_exps;  ///< the row's exp(score - max) terms, visible keys only
};

/// The cell the lab spells out: the second word's (the first's, for one word) strongest visible key
/// other than itself (itself when it sees no other).
WorkedCell worked_cell(const Head& h, const Config& config);
WorkedCell worked_cell(const Head& h, const Config& config, int query, int key);

/// The calculation as lines of plain text, numbers with `digits` decimals; long sums are cut
/// to their first terms with "+ ... (n terms)".
std::vector<std::string> worked_cell_lines(const WorkedCell& w, const std::vector<std::string>& tokens, int digits);

}  // namespace attnlab::lab
