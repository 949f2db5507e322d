#include "csv.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace attnlab {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

}  // namespace

std::vector<CsvRow> parse_csv(const std::string& text, const std::string& name) {
  std::vector<CsvRow> rows;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (number == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // UTF-8 byte order mark
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    CsvRow row;
    row.line = number;
    std::string cell;
    bool quoted = false, was_quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (quoted) {
        if (c == '"' && i + 1 < line.size() && line[i + 1] == '"')
          cell += '"', ++i;
        else if (c == '"')
          quoted = false;
        else
          cell += c;
      } else if (c == '"') {
        quoted = was_quoted = true;
      } else if (c == ',') {
        row.cells.push_back(was_quoted ? cell : trim(cell));
        cell.clear();
        was_quoted = false;
      } else {
        cell += c;
      }
    }
    if (quoted) throw std::invalid_argument(name + " line " + std::to_string(number) + ": unclosed double quote");
    row.cells.push_back(was_quoted ? cell : trim(cell));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<CsvRow> read_csv(const std::string& path, const std::string& what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::invalid_argument(what + ": cannot read '" + path + "'");
  std::ostringstream ss;
  ss << f.rdbuf();
  return parse_csv(ss.str(), what + " " + path);
}

double parse_cell_number(const std::string& cell, const std::string& where) {
  if (cell.empty()) throw std::invalid_argument(where + ": empty cell, expected a number");
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(cell.c_str(), &end);
  if (end != cell.c_str() + cell.size() || errno == ERANGE || !std::isfinite(v))
    throw std::invalid_argument(where + ": '" + cell + "' is not a finite number");
  return v;
}

}  // namespace attnlab
