//===- Json.cpp - A minimal strict JSON parser for the runtime ------------===//

#include "gecko/Runtime/Json.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>

namespace gecko::rt::json {

Value Value::boolean(bool v) {
  Value r;
  r.k = Kind::Bool;
  r.b = v;
  return r;
}

Value Value::number(double d) {
  Value r;
  r.k = Kind::Number;
  r.num = d;
  return r;
}

Value Value::integer(int64_t i) {
  Value r;
  r.k = Kind::Number;
  r.num = static_cast<double>(i);
  r.isInt = true;
  r.intValue = i;
  return r;
}

Value Value::string(std::string s) {
  Value r;
  r.k = Kind::String;
  r.str = std::move(s);
  return r;
}

Value Value::array(std::vector<Value> items) {
  Value r;
  r.k = Kind::Array;
  r.elems = std::move(items);
  return r;
}

Value Value::object() {
  Value r;
  r.k = Kind::Object;
  return r;
}

std::optional<int64_t> Value::asInt() const {
  if (k != Kind::Number || !isInt)
    return std::nullopt;
  return intValue;
}

const Value *Value::get(std::string_view key) const {
  if (k != Kind::Object)
    return nullptr;
  for (size_t i = 0; i < memberKeys.size(); ++i)
    if (memberKeys[i] == key)
      return &elems[i];
  return nullptr;
}

void Value::set(std::string key, Value value) {
  memberKeys.push_back(std::move(key));
  elems.push_back(std::move(value));
}

const char *Value::kindName(Kind kind) {
  switch (kind) {
  case Kind::Null:
    return "null";
  case Kind::Bool:
    return "bool";
  case Kind::Number:
    return "number";
  case Kind::String:
    return "string";
  case Kind::Array:
    return "array";
  case Kind::Object:
    return "object";
  }
  return "?";
}

namespace {

constexpr int kMaxDepth = 256;

class Parser {
public:
  explicit Parser(std::string_view text) : text(text) {}

  std::optional<Value> run(std::string *error) {
    Value v;
    skipSpace();
    bool ok = parseValue(v, 0);
    if (ok) {
      skipSpace();
      if (pos != text.size())
        ok = fail("trailing characters after the JSON value");
    }
    if (!ok) {
      if (error)
        *error = "at byte " + std::to_string(errorPos) + ": " + message;
      return std::nullopt;
    }
    return v;
  }

private:
  std::string_view text;
  size_t pos = 0;
  size_t errorPos = 0;
  std::string message;

  /// Records the first error; always returns false.
  bool fail(std::string what) {
    if (message.empty()) {
      message = std::move(what);
      errorPos = pos;
    }
    return false;
  }

  void skipSpace() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' ||
                                 text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }

  bool literal(std::string_view word) {
    if (text.substr(pos, word.size()) != word)
      return fail("invalid literal (expected '" + std::string(word) + "')");
    pos += word.size();
    return true;
  }

  bool parseValue(Value &out, int depth) {
    if (pos >= text.size())
      return fail("unexpected end of input");
    if (depth > kMaxDepth)
      return fail("nesting deeper than " + std::to_string(kMaxDepth));
    char c = text[pos];
    switch (c) {
    case '{':
      return parseObject(out, depth);
    case '[':
      return parseArray(out, depth);
    case '"': {
      std::string s;
      if (!parseString(s))
        return false;
      out = Value::string(std::move(s));
      return true;
    }
    case 't':
      out = Value::boolean(true);
      return literal("true");
    case 'f':
      out = Value::boolean(false);
      return literal("false");
    case 'n':
      out = Value::null();
      return literal("null");
    default:
      if (c == '-' || (c >= '0' && c <= '9'))
        return parseNumber(out);
      return fail(std::string("unexpected character '") +
                  (c >= 0x20 && c < 0x7f ? std::string(1, c) : "?") + "'");
    }
  }

  bool parseObject(Value &out, int depth) {
    out = Value::object();
    ++pos; // '{'
    skipSpace();
    if (pos < text.size() && text[pos] == '}') {
      ++pos;
      return true;
    }
    while (true) {
      skipSpace();
      if (pos >= text.size() || text[pos] != '"')
        return fail("expected a string key");
      size_t keyPos = pos;
      std::string key;
      if (!parseString(key))
        return false;
      if (out.get(key)) {
        pos = keyPos;
        return fail("duplicate key '" + key + "'");
      }
      skipSpace();
      if (pos >= text.size() || text[pos] != ':')
        return fail("expected ':' after an object key");
      ++pos;
      skipSpace();
      Value member;
      if (!parseValue(member, depth + 1))
        return false;
      out.set(std::move(key), std::move(member));
      skipSpace();
      if (pos >= text.size())
        return fail("unterminated object");
      if (text[pos] == ',') {
        ++pos;
        continue;
      }
      if (text[pos] == '}') {
        ++pos;
        return true;
      }
      return fail("expected ',' or '}' in an object");
    }
  }

  bool parseArray(Value &out, int depth) {
    std::vector<Value> items;
    ++pos; // '['
    skipSpace();
    if (pos < text.size() && text[pos] == ']') {
      ++pos;
      out = Value::array(std::move(items));
      return true;
    }
    while (true) {
      skipSpace();
      Value item;
      if (!parseValue(item, depth + 1))
        return false;
      items.push_back(std::move(item));
      skipSpace();
      if (pos >= text.size())
        return fail("unterminated array");
      if (text[pos] == ',') {
        ++pos;
        continue;
      }
      if (text[pos] == ']') {
        ++pos;
        out = Value::array(std::move(items));
        return true;
      }
      return fail("expected ',' or ']' in an array");
    }
  }

  static void appendUtf8(std::string &s, uint32_t cp) {
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool hex4(uint32_t &value) {
    if (pos + 4 > text.size())
      return fail("truncated \\u escape");
    value = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text[pos + i];
      value <<= 4;
      if (c >= '0' && c <= '9')
        value |= c - '0';
      else if (c >= 'a' && c <= 'f')
        value |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        value |= c - 'A' + 10;
      else
        return fail("invalid hex digit in a \\u escape");
    }
    pos += 4;
    return true;
  }

  /// Length of the valid UTF-8 sequence starting at pos (>= 2 bytes), or 0.
  size_t utf8Length() const {
    auto byte = [&](size_t i) -> unsigned {
      return static_cast<unsigned char>(text[pos + i]);
    };
    auto cont = [&](size_t i) {
      return pos + i < text.size() && (byte(i) & 0xC0) == 0x80;
    };
    unsigned c = byte(0);
    if (c >= 0xC2 && c <= 0xDF)
      return cont(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
      if (!cont(1) || !cont(2))
        return 0;
      unsigned c1 = byte(1);
      if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F))
        return 0; // overlong / surrogate
      return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
      if (!cont(1) || !cont(2) || !cont(3))
        return 0;
      unsigned c1 = byte(1);
      if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F))
        return 0;
      return 4;
    }
    return 0;
  }

  bool parseString(std::string &out) {
    ++pos; // opening quote
    while (true) {
      if (pos >= text.size())
        return fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(text[pos]);
      if (c == '"') {
        ++pos;
        return true;
      }
      if (c < 0x20)
        return fail("control character in a string");
      if (c >= 0x80) {
        size_t n = utf8Length();
        if (n == 0)
          return fail("invalid UTF-8 in a string");
        out.append(text.substr(pos, n));
        pos += n;
        continue;
      }
      if (c != '\\') {
        out += static_cast<char>(c);
        ++pos;
        continue;
      }
      ++pos;
      if (pos >= text.size())
        return fail("unterminated escape");
      char e = text[pos++];
      switch (e) {
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
        uint32_t cp;
        if (!hex4(cp))
          return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
          return fail("unpaired low surrogate in a \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (text.substr(pos, 2) != "\\u")
            return fail("unpaired high surrogate in a \\u escape");
          pos += 2;
          uint32_t low;
          if (!hex4(low))
            return false;
          if (low < 0xDC00 || low > 0xDFFF)
            return fail("invalid low surrogate in a \\u escape");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        appendUtf8(out, cp);
        break;
      }
      default:
        pos -= 2;
        return fail(std::string("invalid escape '\\") + e + "'");
      }
    }
  }

  bool parseNumber(Value &out) {
    size_t start = pos;
    bool integral = true;
    if (text[pos] == '-')
      ++pos;
    auto digits = [&]() {
      size_t first = pos;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9')
        ++pos;
      return pos - first;
    };
    if (pos >= text.size() || !(text[pos] >= '0' && text[pos] <= '9'))
      return fail("expected a digit");
    if (text[pos] == '0') {
      ++pos;
      if (pos < text.size() && text[pos] >= '0' && text[pos] <= '9')
        return fail("leading zero in a number");
    } else {
      digits();
    }
    if (pos < text.size() && text[pos] == '.') {
      integral = false;
      ++pos;
      if (digits() == 0)
        return fail("expected a digit after the decimal point");
    }
    if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
      integral = false;
      ++pos;
      if (pos < text.size() && (text[pos] == '+' || text[pos] == '-'))
        ++pos;
      if (digits() == 0)
        return fail("expected a digit in the exponent");
    }
    std::string literalText(text.substr(start, pos - start));
    if (integral) {
      errno = 0;
      char *end = nullptr;
      long long v = std::strtoll(literalText.c_str(), &end, 10);
      if (errno == 0 && end == literalText.c_str() + literalText.size()) {
        out = Value::integer(static_cast<int64_t>(v));
        return true;
      }
    }
    double d = std::strtod(literalText.c_str(), nullptr);
    if (!std::isfinite(d)) {
      pos = start;
      return fail("number out of range");
    }
    out = Value::number(d);
    return true;
  }
};

void writeValue(const Value &v, int indent, bool sortKeys, int level,
                std::string &out) {
  auto newline = [&](int lvl) {
    if (indent < 0)
      return;
    out += '\n';
    out.append(static_cast<size_t>(indent) * lvl, ' ');
  };
  switch (v.kind()) {
  case Value::Kind::Null:
    out += "null";
    return;
  case Value::Kind::Bool:
    out += v.asBool() ? "true" : "false";
    return;
  case Value::Kind::Number: {
    if (auto i = v.asInt()) {
      out += std::to_string(*i);
      return;
    }
    double d = v.asNumber();
    if (!std::isfinite(d)) {
      out += "null";
      return;
    }
    char buf[40];
    std::snprintf(buf, sizeof(buf), "%.17g", d);
    std::string s = buf;
    // Shortest form that round-trips, for readability.
    for (int prec = 1; prec < 17; ++prec) {
      std::snprintf(buf, sizeof(buf), "%.*g", prec, d);
      if (std::strtod(buf, nullptr) == d) {
        s = buf;
        break;
      }
    }
    if (s.find_first_of(".eEn") == std::string::npos)
      s += ".0";
    out += s;
    return;
  }
  case Value::Kind::String:
    out += quote(v.asString());
    return;
  case Value::Kind::Array: {
    const auto &items = v.items();
    if (items.empty()) {
      out += "[]";
      return;
    }
    out += '[';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i)
        out += indent < 0 ? ", " : ",";
      newline(level + 1);
      writeValue(items[i], indent, sortKeys, level + 1, out);
    }
    newline(level);
    out += ']';
    return;
  }
  case Value::Kind::Object: {
    const auto &keys = v.keys();
    if (keys.empty()) {
      out += "{}";
      return;
    }
    std::vector<size_t> order(keys.size());
    std::iota(order.begin(), order.end(), 0);
    if (sortKeys)
      std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return keys[a] != keys[b] ? keys[a] < keys[b] : a < b;
      });
    out += '{';
    for (size_t n = 0; n < order.size(); ++n) {
      if (n)
        out += indent < 0 ? ", " : ",";
      newline(level + 1);
      out += quote(keys[order[n]]);
      out += ": ";
      writeValue(v.values()[order[n]], indent, sortKeys, level + 1, out);
    }
    newline(level);
    out += '}';
    return;
  }
  }
}

} // namespace

std::optional<Value> parse(std::string_view text, std::string *error) {
  return Parser(text).run(error);
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        out += buf;
      } else {
        out += ch;
      }
    }
  }
  return out + "\"";
}

std::string write(const Value &value, int indent, bool sortKeys) {
  std::string out;
  writeValue(value, indent, sortKeys, 0, out);
  return out;
}

} // namespace gecko::rt::json
