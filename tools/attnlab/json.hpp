// A small streaming JSON writer: enough for reports, with correct escaping
// and non-finite numbers written as null (JSON has no NaN).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace attnlab {

class Json {
 public:
  Json& begin_object();
  Json& end_object();
  Json& begin_array();
  Json& end_array();
  Json& key(std::string_view k);
  Json& value(std::string_view s);
  Json& value(const char* s) { return value(std::string_view(s)); }
  Json& value(const std::string& s) { return value(std::string_view(s)); }
  Json& value(double x);
  Json& value(long long x);
  Json& value(int x) { return value(static_cast<long long>(x)); }
  Json& value(long x) { return value(static_cast<long long>(x)); }
  Json& value(unsigned long x) { return value(static_cast<long long>(x)); }
  Json& value(bool b);
  Json& null();
  /// key + value in one call.
  template <class T>
  Json& field(std::string_view k, const T& v) {
    return key(k).value(v);
  }
  const std::string& str() const { return out_; }

 private:
  void comma();
  std::string out_;
  std::vector<bool> first_{true};  // per nesting level: nothing written yet
  bool after_key_ = false;
};

}  // namespace attnlab
