#include "json.hpp"

#include <cmath>
#include <cstdio>

namespace attnlab {

void Json::comma() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.back()) out_ += ',';
  first_.back() = false;
}

Json& Json::begin_object() {
  comma();
  out_ += '{';
  first_.push_back(true);
  return *this;
}
Json& Json::end_object() {
  first_.pop_back();
  out_ += '}';
  return *this;
}
Json& Json::begin_array() {
  comma();
  out_ += '[';
  first_.push_back(true);
  return *this;
}
Json& Json::end_array() {
  first_.pop_back();
  out_ += ']';
  return *this;
}
Json& Json::key(std::string_view k) {
  value(k);
  out_ += ':';
  after_key_ = true;
  return *this;
}
Json& Json::value(std::string_view s) {
  comma();
  out_ += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out_ += "\\\"";
        break;
      case '\\':
        out_ += "\\\\";
        break;
      case '\n':
        out_ += "\\n";
        break;
      case '\t':
        out_ += "\\t";
        break;
      case '\r':
        out_ += "\\r";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out_ += buf;
        } else {
          out_ += static_cast<char>(c);
        }
    }
  }
  out_ += '"';
  return *this;
}
Json& Json::value(double x) {
  if (!std::isfinite(x)) return null();
  comma();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", x);
  out_ += buf;
  return *this;
}
Json& Json::value(long long x) {
  comma();
  out_ += std::to_string(x);
  return *this;
}
Json& Json::value(bool b) {
  comma();
  out_ += b ? "true" : "false";
  return *this;
}
Json& Json::null() {
  comma();
  out_ += "null";
  return *this;
}

}  // namespace attnlab
