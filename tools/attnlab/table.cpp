#include "table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>

namespace attnlab {

namespace {

bool looks_numeric(const std::string& s) {
  if (s.empty()) return false;
  const char c = s[0];
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || s == "nan" || s == "inf";
}

std::string nonfinite(double v) {
  return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
}

}  // namespace

Table::Table(std::vector<std::string> header) : header_(std::move(header)) {}

void Table::add_row(std::vector<std::string> cells) {
  cells.resize(header_.size());
  rows_.push_back(std::move(cells));
}

void Table::print(std::ostream& os) const {
  std::vector<std::size_t> width(header_.size());
  // Width in displayed characters: count UTF-8 lead bytes only.
  auto display = [](const std::string& s) {
    return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
  };
  for (std::size_t c = 0; c < header_.size(); ++c) {
    width[c] = display(header_[c]);
    for (const auto& r : rows_) width[c] = std::max(width[c], display(r[c]));
  }
  auto line = [&](const std::vector<std::string>& cells, bool header) {
    os << '|';
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const std::size_t pad = width[c] - display(cells[c]);
      const bool right = !header && looks_numeric(cells[c]);
      os << ' ' << (right ? std::string(pad, ' ') : "") << cells[c] << (right ? "" : std::string(pad, ' ')) << " |";
    }
    os << '\n';
  };
  line(header_, true);
  os << '|';
  for (std::size_t c = 0; c < header_.size(); ++c) os << std::string(width[c] + 2, '-') << '|';
  os << '\n';
  for (const auto& r : rows_) line(r, false);
}

std::string fixed(double v, int digits) {
  if (!std::isfinite(v)) return nonfinite(v);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string sci(double v) {
  if (!std::isfinite(v)) return nonfinite(v);
  if (v == 0) return "0";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2e", v);
  return buf;
}

std::string duration(double s) {
  char buf[64];
  if (s < 1e-6)
    std::snprintf(buf, sizeof buf, "%.0f ns", s * 1e9);
  else if (s < 1e-3)
    std::snprintf(buf, sizeof buf, "%.2f us", s * 1e6);
  else if (s < 1)
    std::snprintf(buf, sizeof buf, "%.2f ms", s * 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}

std::string bytes(double n) {
  const char* unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (n >= 1024 && u < 4) n /= 1024, ++u;
  char buf[64];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%.0f B", n);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", n, unit[u]);
  return buf;
}

}  // namespace attnlab
