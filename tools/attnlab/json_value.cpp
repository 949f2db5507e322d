#include "json_value.hpp"

#include "utf8.hpp"

#include <charconv>
#include <limits>
#include <stdexcept>

namespace attnlab {

const JsonValue::Array* JsonValue::array() const {
  const auto* a = std::get_if<std::shared_ptr<Array>>(&v_);
  return a ? a->get() : nullptr;
}

const JsonValue* JsonValue::find(std::string_view key) const {
  const auto* o = std::get_if<std::shared_ptr<Object>>(&v_);
  if (!o) return nullptr;
  const auto it = (*o)->find(key);
  return it == (*o)->end() ? nullptr : &it->second;
}

namespace {

// Nesting deeper than this is refused rather than recursed into (a hostile file must not
// exhaust the stack).
constexpr int kMaxDepth = 256;

class Parser {
 public:
  Parser(std::string_view text, const std::string& what) : s_(text), what_(what) {}

  JsonValue document() {
    JsonValue v = value(0);
    space();
    if (i_ != s_.size()) fail("text after the value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    std::size_t line = 1, col = 1;
    for (std::size_t k = 0; k < i_ && k < s_.size(); ++k) {
      if (s_[k] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    throw std::invalid_argument(what_ + ": not JSON: " + why + " at line " + std::to_string(line) + ", column " +
                                std::to_string(col));
  }

  void space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }

  bool take(char c) {
    space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }

  void expect(char c) {
    if (!take(c)) fail(std::string("expected '") + c + "'");
  }

  bool word(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }

  JsonValue value(int depth) {
    if (depth > kMaxDepth) fail("nesting deeper than " + std::to_string(kMaxDepth));
    space();
    if (i_ >= s_.size()) fail("unexpected end");
    const char c = s_[i_];
    if (c == '{') return object(depth);
    if (c == '[') return array(depth);
    if (c == '"') return JsonValue(string());
    if (word("true")) return JsonValue(true);
    if (word("false")) return JsonValue(false);
    if (word("null")) return JsonValue();
    if (word("NaN") || word("-NaN")) return JsonValue(std::numeric_limits<double>::quiet_NaN());
    if (word("Infinity")) return JsonValue(std::numeric_limits<double>::infinity());
    if (word("-Infinity")) return JsonValue(-std::numeric_limits<double>::infinity());
    if (c == '-' || (c >= '0' && c <= '9')) return JsonValue(number());
    fail(std::string("unexpected character '") + c + "'");
  }

  JsonValue object(int depth) {
    ++i_;  // '{'
    JsonValue::Object o;
    if (take('}')) return JsonValue(std::move(o));
    do {
      space();
      if (i_ >= s_.size() || s_[i_] != '"') fail("expected a member name");
      std::string k = string();
      expect(':');
      o.insert_or_assign(std::move(k), value(depth + 1));
    } while (take(','));
    expect('}');
    return JsonValue(std::move(o));
  }

  JsonValue array(int depth) {
    ++i_;  // '['
    JsonValue::Array a;
    if (take(']')) return JsonValue(std::move(a));
    do a.push_back(value(depth + 1));
    while (take(','));
    expect(']');
    return JsonValue(std::move(a));
  }

  double number() {
    // JSON's grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    const std::size_t start = i_;
    auto digits = [&] {
      const std::size_t d = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      return i_ > d;
    };
    if (s_[i_] == '-') ++i_;
    if (i_ < s_.size() && s_[i_] == '0') {
      ++i_;
    } else if (!digits()) {
      fail("a number without digits");
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!digits()) fail("no digits after the decimal point");
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!digits()) fail("no digits in the exponent");
    }
    double x = 0;
    const auto [p, ec] = std::from_chars(s_.data() + start, s_.data() + i_, x);
    if (ec == std::errc::result_out_of_range) {
      i_ = start;
      fail("a number out of the range of a double");
    }
    if (ec != std::errc{} || p != s_.data() + i_) fail("a malformed number");
    return x;
  }

  unsigned hex4() {
    if (i_ + 4 > s_.size()) fail("a truncated \\u escape");
    unsigned u = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = s_[i_++];
      u <<= 4;
      if (h >= '0' && h <= '9')
        u |= static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f')
        u |= static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F')
        u |= static_cast<unsigned>(h - 'A' + 10);
      else
        fail("a bad hex digit in a \\u escape");
    }
    return u;
  }

  std::string string() {
    ++i_;  // '"'
    std::string out;
    while (true) {
      if (i_ >= s_.size()) fail("an unterminated string");
      const char c = s_[i_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("a control character inside a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) fail("an unterminated string");
      switch (const char e = s_[i_++]) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {  // a surrogate pair
            if (!word("\\u")) fail("a lone high surrogate");
            const unsigned lo = hex4();
            if (lo < 0xDC00 || lo >= 0xE000) fail("a bad low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            fail("a lone low surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default:
          fail(std::string("a bad escape '\\") + e + "'");
      }
    }
  }

  std::string_view s_;
  const std::string& what_;
  std::size_t i_ = 0;
};

}  // namespace

JsonValue parse_json(std::string_view text, const std::string& what) {
  return Parser(text, what).document();
}

}  // namespace attnlab
