// A small CSV reader for the lab's input files (embeddings, weight matrices,
// predicted tables): comma-separated cells, optional double quotes, '#' comments.
#pragma once

#include <string>
#include <vector>

namespace attnlab {

struct CsvRow {
  int line = 0;  ///< 1-based line number in the file, for error messages
  std::vector<std::string> cells;
};

/// Reads `path`; blank lines and lines starting with '#' are skipped, cells are
/// trimmed of surrounding spaces. Throws std::invalid_argument naming `what`
/// (e.g. "--embeddings") and the path when the file cannot be read or a quote is unclosed.
std::vector<CsvRow> read_csv(const std::string& path, const std::string& what);

/// Parses one CSV text (the same rules as read_csv; `name` is used in errors).
std::vector<CsvRow> parse_csv(const std::string& text, const std::string& name);

/// Parses a finite number from a whole cell; throws std::invalid_argument with
/// `where` (e.g. "--wq w.csv line 3, column 2") when it is not one.
double parse_cell_number(const std::string& cell, const std::string& where);

}  // namespace attnlab
