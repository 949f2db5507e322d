// A small JSON reader, for the files attnlab itself reads back (a benchmark result):
// the whole text parsed into a tree of values. RFC 8259 syntax, plus the NaN, Infinity and
// -Infinity that Google Benchmark writes for non-finite counters (Python's json reads them
// too); a parse error names the line and column.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace attnlab {

class JsonValue {
 public:
  using Array = std::vector<JsonValue>;
  using Object = std::map<std::string, JsonValue, std::less<>>;

  JsonValue() = default;  // null
  explicit JsonValue(bool b) : v_(b) {}
  explicit JsonValue(double x) : v_(x) {}
  explicit JsonValue(std::string s) : v_(std::move(s)) {}
  explicit JsonValue(Array a) : v_(std::make_shared<Array>(std::move(a))) {}
  explicit JsonValue(Object o) : v_(std::make_shared<Object>(std::move(o))) {}

  bool is_null() const { return std::holds_alternative<std::monostate>(v_); }
  bool is_number() const { return std::holds_alternative<double>(v_); }
  bool is_string() const { return std::holds_alternative<std::string>(v_); }
  bool is_bool() const { return std::holds_alternative<bool>(v_); }
  bool is_array() const { return std::holds_alternative<std::shared_ptr<Array>>(v_); }
  bool is_object() const { return std::holds_alternative<std::shared_ptr<Object>>(v_); }

  /// The value; nullptr where it is of another type.
  const double* number() const { return std::get_if<double>(&v_); }
  const std::string* string() const { return std::get_if<std::string>(&v_); }
  const bool* boolean() const { return std::get_if<bool>(&v_); }
  const Array* array() const;
  /// Member `key` of an object; nullptr where this is no object or has no such member.
  const JsonValue* find(std::string_view key) const;

 private:
  std::variant<std::monostate, bool, double, std::string, std::shared_ptr<Array>, std::shared_ptr<Object>> v_;
};

/// Parses a whole JSON text. Throws std::invalid_argument "<what>: not JSON: <reason> at line L, column C".
JsonValue parse_json(std::string_view text, const std::string& what);

}  // namespace attnlab
