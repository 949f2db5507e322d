// The JSON reader `attnlab bench report` reads results with (tools/attnlab/json_value.hpp):
// values, escapes and numbers as RFC 8259 defines them, Google Benchmark's non-finite
// numbers, and every malformed text refused with its line and column, never a crash.
#include "json_value.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace {

using attnlab::parse_json;

TEST(JsonValue, ReadsADocumentOfEveryType) {
  const auto v = parse_json(R"( {"a": [1, -2.5e3, true, false, null], "b": {"c": "d"}, "e": 0.125} )", "t");
  const auto* a = v.find("a")->array();
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->size(), 5u);
  EXPECT_EQ(*(*a)[0].number(), 1.0);
  EXPECT_EQ(*(*a)[1].number(), -2500.0);
  EXPECT_TRUE(*(*a)[2].boolean());
  EXPECT_FALSE(*(*a)[3].boolean());
  EXPECT_TRUE((*a)[4].is_null());
  EXPECT_EQ(*v.find("b")->find("c")->string(), "d");
  EXPECT_EQ(*v.find("e")->number(), 0.125);
  EXPECT_EQ(v.find("missing"), nullptr);
  EXPECT_EQ(v.find("e")->find("x"), nullptr);  // not an object
  EXPECT_EQ(v.find("e")->string(), nullptr);   // not a string
}

TEST(JsonValue, NumbersAreReadExactlyAsDoubles) {
  EXPECT_EQ(*parse_json("0.1", "t").number(), 0.1);
  EXPECT_EQ(*parse_json("173.511388", "t").number(), 173.511388);
  EXPECT_EQ(*parse_json("-0", "t").number(), 0.0);
  EXPECT_TRUE(std::signbit(*parse_json("-0", "t").number()));
  EXPECT_EQ(*parse_json("1E2", "t").number(), 100.0);
  EXPECT_EQ(*parse_json("4.9e-324", "t").number(), 4.9e-324);
}

TEST(JsonValue, ReadsGoogleBenchmarksNonFiniteNumbers) {
  const auto v = parse_json(R"([NaN, -NaN, Infinity, -Infinity])", "t");
  const auto& a = *v.array();
  EXPECT_TRUE(std::isnan(*a[0].number()));
  EXPECT_TRUE(std::isnan(*a[1].number()));
  EXPECT_EQ(*a[2].number(), INFINITY);
  EXPECT_EQ(*a[3].number(), -INFINITY);
}

TEST(JsonValue, DecodesEscapesToUtf8) {
  const auto v = parse_json(R"("q\"b\\s\/\b\f\n\r\t \u00e9 \u20ac \ud83d\ude00 µ")", "t");
  EXPECT_EQ(*v.string(), "q\"b\\s/\b\f\n\r\t \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc2\xb5");
}

TEST(JsonValue, ALaterDuplicateMemberWins) {
  EXPECT_EQ(*parse_json(R"({"k": 1, "k": 2})", "t").find("k")->number(), 2.0);
}

TEST(JsonValue, MalformedTextsAreRefusedWithWhereAndWhy) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "unexpected end at line 1, column 1"},
      {"{\"a\": 1,\n \"b\" 2}", "expected ':' at line 2, column 6"},
      {"[1, 2", "expected ']' at line 1, column 6"},
      {"[1,]", "unexpected character ']' at line 1, column 4"},
      {"{\"a\": 1} x", "text after the value at line 1, column 10"},
      {"01", "text after the value"},
      {"1.", "no digits after the decimal point"},
      {"1e+", "no digits in the exponent"},
      {"-", "a number without digits"},
      {"1e999", "out of the range of a double"},
      {"\"abc", "an unterminated string"},
      {"\"a\nb\"", "a control character inside a string"},
      {"\"\\x\"", "a bad escape '\\x'"},
      {"\"\\u12G4\"", "a bad hex digit"},
      {"\"\\ud83d\"", "a lone high surrogate"},
      {"\"\\ude00\"", "a lone low surrogate"},
      {"{1: 2}", "expected a member name"},
      {"tru", "unexpected character 't'"},
  };
  for (const auto& [text, why] : cases) {
    try {
      parse_json(text, "file.json");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const std::invalid_argument& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind("file.json: not JSON: ", 0), 0u) << msg;
      EXPECT_NE(msg.find(why), std::string::npos) << text << " -> " << msg;
    }
  }
}

TEST(JsonValue, DeepNestingIsRefusedNotRecursedInto) {
  const std::string deep(100000, '[');
  EXPECT_THROW(parse_json(deep, "t"), std::invalid_argument);
  const std::string ok = std::string(200, '[') + std::string(200, ']');
  EXPECT_NO_THROW(parse_json(ok, "t"));
}

}  // namespace
