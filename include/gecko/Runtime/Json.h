//===- Json.h - A minimal strict JSON parser for the runtime ----*- C++ -*-===//
//
// The model runtime links neither MLIR nor LLVM, so it cannot use
// llvm::json. This is a small strict RFC 8259 parser: objects (key order
// kept, duplicate keys rejected), arrays, strings (escapes and \u surrogate
// pairs decoded to UTF-8, raw bytes validated as UTF-8, no control
// characters), numbers (integers without fraction/exponent also kept exactly
// as int64), true/false/null. Errors name the byte offset. Nesting is
// limited to 256 levels so hostile input cannot overflow the stack.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_RUNTIME_JSON_H
#define GECKO_RUNTIME_JSON_H

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gecko::rt::json {

class Value {
public:
  enum class Kind { Null, Bool, Number, String, Array, Object };

  Value() = default;
  static Value null() { return Value(); }
  static Value boolean(bool b);
  static Value number(double d);
  static Value integer(int64_t i);
  static Value string(std::string s);
  static Value array(std::vector<Value> items);
  static Value object();

  Kind kind() const { return k; }
  bool isNull() const { return k == Kind::Null; }
  bool isBool() const { return k == Kind::Bool; }
  bool isNumber() const { return k == Kind::Number; }
  bool isString() const { return k == Kind::String; }
  bool isArray() const { return k == Kind::Array; }
  bool isObject() const { return k == Kind::Object; }

  bool asBool() const { return b; }
  double asNumber() const { return num; }
  /// The exact value of a number written as an integer (no fraction, no
  /// exponent) that fits in int64; nullopt otherwise.
  std::optional<int64_t> asInt() const;
  const std::string &asString() const { return str; }
  const std::vector<Value> &items() const { return elems; }
  /// Object members in document order.
  const std::vector<std::string> &keys() const { return memberKeys; }
  const std::vector<Value> &values() const { return elems; }
  /// The member `key` of an object, or null when absent / not an object.
  const Value *get(std::string_view key) const;
  /// Appends a member (objects built in code; no duplicate check).
  void set(std::string key, Value value);

  /// "null", "bool", "number", "string", "array", "object".
  static const char *kindName(Kind kind);

private:
  Kind k = Kind::Null;
  bool b = false;
  bool isInt = false;
  int64_t intValue = 0;
  double num = 0;
  std::string str;
  std::vector<std::string> memberKeys; // objects
  std::vector<Value> elems;            // array items / object values
};

/// Parses `text` (one value, surrounded by optional whitespace). On failure
/// returns nullopt and sets `error` to "at byte N: <what>".
std::optional<Value> parse(std::string_view text, std::string *error);

/// `s` as a JSON string literal (quotes, escapes; non-ASCII bytes kept).
std::string quote(std::string_view s);

/// Serializes `value`: `indent` < 0 = one line, else pretty with that many
/// spaces; object keys in sorted order when `sortKeys`. Numbers: integers
/// exactly, others with 17 significant digits (non-finite -> null).
std::string write(const Value &value, int indent = 2, bool sortKeys = true);

} // namespace gecko::rt::json

#endif // GECKO_RUNTIME_JSON_H
