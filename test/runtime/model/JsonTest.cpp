//===- JsonTest.cpp - The runtime's strict JSON parser --------------------===//

#include "gecko/Runtime/Json.h"

#include <gtest/gtest.h>

using namespace gecko::rt;

namespace {

std::string parseError(const std::string &text) {
  std::string error;
  EXPECT_FALSE(json::parse(text, &error).has_value()) << text;
  return error;
}

TEST(RuntimeJson, ParsesEveryKind) {
  std::string error;
  auto v = json::parse(
      R"( {"a": [1, -2.5e1, true, false, null], "b": {"c": "x\u00e9\n"}} )",
      &error);
  ASSERT_TRUE(v) << error;
  ASSERT_TRUE(v->isObject());
  EXPECT_EQ(v->keys(), (std::vector<std::string>{"a", "b"}));
  const json::Value *a = v->get("a");
  ASSERT_TRUE(a && a->isArray());
  ASSERT_EQ(a->items().size(), 5u);
  EXPECT_EQ(a->items()[0].asInt(), 1);
  EXPECT_DOUBLE_EQ(a->items()[1].asNumber(), -25.0);
  EXPECT_FALSE(a->items()[1].asInt().has_value());
  EXPECT_TRUE(a->items()[2].asBool());
  EXPECT_FALSE(a->items()[3].asBool());
  EXPECT_TRUE(a->items()[4].isNull());
  EXPECT_EQ(v->get("b")->get("c")->asString(), "x\xc3\xa9\n");
  EXPECT_EQ(v->get("missing"), nullptr);
}

TEST(RuntimeJson, IntegersAreExact) {
  std::string error;
  auto v = json::parse("[9007199254740993, -9223372036854775808, "
                       "99999999999999999999, 0]",
                       &error);
  ASSERT_TRUE(v) << error;
  EXPECT_EQ(v->items()[0].asInt(), 9007199254740993LL);
  EXPECT_EQ(v->items()[1].asInt(), INT64_MIN);
  EXPECT_FALSE(v->items()[2].asInt().has_value()); // too big: a double
  EXPECT_DOUBLE_EQ(v->items()[2].asNumber(), 1e20);
  EXPECT_EQ(v->items()[3].asInt(), 0);
}

TEST(RuntimeJson, SurrogatePairs) {
  std::string error;
  auto v = json::parse(R"("\ud83d\ude00")", &error);
  ASSERT_TRUE(v) << error;
  EXPECT_EQ(v->asString(), "\xf0\x9f\x98\x80");
}

TEST(RuntimeJson, ErrorsNameTheByteOffset) {
  EXPECT_EQ(parseError("[1, 2,]"), "at byte 6: unexpected character ']'");
  EXPECT_EQ(parseError("{\"a\": 1,}"), "at byte 8: expected a string key");
  EXPECT_EQ(parseError("[01]"), "at byte 2: leading zero in a number");
  EXPECT_EQ(parseError("\"abc"), "at byte 4: unterminated string");
  EXPECT_EQ(parseError("\"a\\x\""), "at byte 2: invalid escape '\\x'");
  EXPECT_EQ(parseError("{\"a\": 1, \"a\": 2}"), "at byte 9: duplicate key 'a'");
  EXPECT_EQ(parseError("\"a\nb\""), "at byte 2: control character in a string");
  EXPECT_EQ(parseError("\"\xff\""), "at byte 1: invalid UTF-8 in a string");
  EXPECT_EQ(parseError("\"\xc0\xaf\""), "at byte 1: invalid UTF-8 in a string");
  EXPECT_EQ(parseError(R"("\ud83d")"),
            "at byte 7: unpaired high surrogate in a \\u escape");
  EXPECT_EQ(parseError("1 2"), "at byte 2: trailing characters after the "
                               "JSON value");
  EXPECT_EQ(parseError(""), "at byte 0: unexpected end of input");
  EXPECT_EQ(parseError("tru"), "at byte 0: invalid literal (expected 'true')");
  EXPECT_EQ(parseError("[1.]"),
            "at byte 3: expected a digit after the decimal point");
  EXPECT_EQ(parseError("1e999"), "at byte 0: number out of range");
  EXPECT_EQ(parseError("{\"a\" 1}"),
            "at byte 5: expected ':' after an object key");
  EXPECT_EQ(parseError("[1 2]"), "at byte 3: expected ',' or ']' in an array");
}

TEST(RuntimeJson, DeepNestingIsAnErrorNotACrash) {
  std::string deep(100000, '[');
  EXPECT_EQ(parseError(deep), "at byte 257: nesting deeper than 256");
}

TEST(RuntimeJson, WriteRoundTrips) {
  json::Value obj = json::Value::object();
  obj.set("z", json::Value::integer(-3));
  obj.set("a", json::Value::array(
                   {json::Value::number(0.1), json::Value::boolean(true),
                    json::Value::null(), json::Value::string("q\"\\\x01")}));
  std::string text = json::write(obj, 2, true);
  EXPECT_EQ(text, "{\n  \"a\": [\n    0.1,\n    true,\n    null,\n    "
                  "\"q\\\"\\\\\\u0001\"\n  ],\n  \"z\": -3\n}");
  std::string error;
  auto back = json::parse(text, &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(json::write(*back, -1, true),
            "{\"a\": [0.1, true, null, \"q\\\"\\\\\\u0001\"], \"z\": -3}");
  EXPECT_EQ(json::write(json::Value::number(2.0), -1), "2.0");
}

} // namespace
