// Aligned plain-text tables that paste cleanly into Markdown, and number formatting.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace attnlab {

class Table {
 public:
  explicit Table(std::vector<std::string> header);
  void add_row(std::vector<std::string> cells);
  /// Markdown-compatible: `| a | b |` rows, numbers right-aligned.
  void print(std::ostream& os) const;
  std::size_t rows() const { return rows_.size(); }

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

/// Fixed-point with `digits` decimals; "nan", "inf", "-inf" spelled out.
std::string fixed(double v, int digits);
/// Three significant digits in scientific notation (errors), e.g. "3.1e-07".
std::string sci(double v);
/// Human time from seconds: "153 ns", "4.20 ms", "1.25 s".
std::string duration(double seconds);
/// Human bytes: "0 B", "48.0 KiB", "1.50 GiB".
std::string bytes(double n);

}  // namespace attnlab
