//===- Json.cpp - A small strict JSON reader for the run driver -----------===//

#include "Json.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace gecko::devcheck::json {

const Value *Value::find(const std::string &key) const {
  if (kind != Object)
    return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &it->second;
}

namespace {

class Parser {
public:
  explicit Parser(const std::string &text) : text(text) {}

  bool document(Value &out, std::string &error) {
    skipSpace();
    bool ok = value(out, 0);
    if (ok) {
      skipSpace();
      if (pos != text.size())
        ok = fail("trailing data after the value");
    }
    if (!ok) {
      error = "offset " + std::to_string(pos) + ": " + message;
      return false;
    }
    return true;
  }

private:
  bool fail(const std::string &why) {
    if (message.empty())
      message = why;
    return false;
  }
  void skipSpace() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\n' ||
                                 text[pos] == '\r' || text[pos] == '\t'))
      ++pos;
  }
  bool literal(const char *word) {
    size_t n = std::char_traits<char>::length(word);
    if (text.compare(pos, n, word) != 0)
      return fail(std::string("expected '") + word + "'");
    pos += n;
    return true;
  }

  bool value(Value &out, int depth) {
    if (depth > 64)
      return fail("nesting too deep");
    if (pos >= text.size())
      return fail("unexpected end of input");
    char c = text[pos];
    if (c == '{')
      return objectValue(out, depth);
    if (c == '[')
      return arrayValue(out, depth);
    if (c == '"') {
      out.kind = Value::String;
      return stringValue(out.string);
    }
    if (c == 't') {
      out.kind = Value::Bool;
      out.boolean = true;
      return literal("true");
    }
    if (c == 'f') {
      out.kind = Value::Bool;
      out.boolean = false;
      return literal("false");
    }
    if (c == 'n') {
      out.kind = Value::Null;
      return literal("null");
    }
    return numberValue(out);
  }

  bool objectValue(Value &out, int depth) {
    out.kind = Value::Object;
    ++pos;
    skipSpace();
    if (pos < text.size() && text[pos] == '}') {
      ++pos;
      return true;
    }
    while (true) {
      skipSpace();
      if (pos >= text.size() || text[pos] != '"')
        return fail("expected a string key");
      std::string key;
      if (!stringValue(key))
        return false;
      skipSpace();
      if (pos >= text.size() || text[pos] != ':')
        return fail("expected ':'");
      ++pos;
      skipSpace();
      Value member;
      if (!value(member, depth + 1))
        return false;
      if (!out.object.emplace(key, std::move(member)).second)
        return fail("duplicate key \"" + key + "\"");
      skipSpace();
      if (pos < text.size() && text[pos] == ',') {
        ++pos;
        continue;
      }
      if (pos < text.size() && text[pos] == '}') {
        ++pos;
        return true;
      }
      return fail("expected ',' or '}'");
    }
  }

  bool arrayValue(Value &out, int depth) {
    out.kind = Value::Array;
    ++pos;
    skipSpace();
    if (pos < text.size() && text[pos] == ']') {
      ++pos;
      return true;
    }
    while (true) {
      skipSpace();
      Value element;
      if (!value(element, depth + 1))
        return false;
      out.array.push_back(std::move(element));
      skipSpace();
      if (pos < text.size() && text[pos] == ',') {
        ++pos;
        continue;
      }
      if (pos < text.size() && text[pos] == ']') {
        ++pos;
        return true;
      }
      return fail("expected ',' or ']'");
    }
  }

  static void appendUtf8(std::string &s, unsigned code) {
    if (code < 0x80) {
      s += static_cast<char>(code);
    } else if (code < 0x800) {
      s += static_cast<char>(0xC0 | (code >> 6));
      s += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      s += static_cast<char>(0xE0 | (code >> 12));
      s += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (code >> 18));
      s += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  bool hex4(unsigned &code) {
    if (pos + 4 > text.size())
      return fail("truncated \\u escape");
    code = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text[pos++];
      code <<= 4;
      if (c >= '0' && c <= '9')
        code |= c - '0';
      else if (c >= 'a' && c <= 'f')
        code |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        code |= c - 'A' + 10;
      else
        return fail("bad \\u escape");
    }
    return true;
  }

  bool stringValue(std::string &out) {
    ++pos; // opening quote
    while (pos < text.size()) {
      unsigned char c = text[pos++];
      if (c == '"')
        return true;
      if (c < 0x20)
        return fail("control character in a string");
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      if (pos >= text.size())
        break;
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
        unsigned code;
        if (!hex4(code))
          return false;
        if (code >= 0xD800 && code < 0xDC00) {
          unsigned low;
          if (pos + 2 > text.size() || text[pos] != '\\' ||
              text[pos + 1] != 'u')
            return fail("unpaired surrogate");
          pos += 2;
          if (!hex4(low) || low < 0xDC00 || low >= 0xE000)
            return fail("unpaired surrogate");
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        }
        appendUtf8(out, code);
        break;
      }
      default:
        return fail(std::string("bad escape \\") + e);
      }
    }
    return fail("unterminated string");
  }

  bool numberValue(Value &out) {
    size_t start = pos;
    if (pos < text.size() && text[pos] == '-')
      ++pos;
    size_t digits = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9')
      ++pos;
    if (pos == digits)
      return fail("expected a value");
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      size_t fraction = pos;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9')
        ++pos;
      if (pos == fraction)
        return fail("expected digits after '.'");
    }
    if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
      ++pos;
      if (pos < text.size() && (text[pos] == '+' || text[pos] == '-'))
        ++pos;
      size_t exponent = pos;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9')
        ++pos;
      if (pos == exponent)
        return fail("expected exponent digits");
    }
    std::string literalText = text.substr(start, pos - start);
    errno = 0;
    out.kind = Value::Number;
    out.number = std::strtod(literalText.c_str(), nullptr);
    return true;
  }

  const std::string &text;
  size_t pos = 0;
  std::string message;
};

} // namespace

bool parse(const std::string &text, Value &out, std::string &error) {
  out = Value();
  return Parser(text).document(out, error);
}

std::string quote(const std::string &text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
      out += buffer;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

} // namespace gecko::devcheck::json
