//===- Json.h - A small strict JSON reader for the run driver ----*- C++
//-*-===//
//
// The run driver builds on the GPU machine with a plain C++ compiler (no
// LLVM, no third-party libraries), so it carries its own JSON reader for
// manifest.json and safetensors headers: objects, arrays, strings (with
// \uXXXX escapes), numbers, true/false/null; errors name the byte offset.
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_DEVICECHECK_JSON_H
#define GECKO_DEVICECHECK_JSON_H

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace gecko::devcheck::json {

struct Value {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Value> array;
  /// Keys in sorted order (duplicates are a parse error).
  std::map<std::string, Value> object;

  bool isObject() const { return kind == Object; }
  bool isArray() const { return kind == Array; }
  bool isString() const { return kind == String; }
  bool isNumber() const { return kind == Number; }
  bool isBool() const { return kind == Bool; }
  /// The member `key` of an object, or null.
  const Value *find(const std::string &key) const;
};

/// Parses `text`; on failure returns false and sets `error`
/// ("offset 12: expected ':'").
bool parse(const std::string &text, Value &out, std::string &error);

/// `text` as a JSON string literal (quotes included).
std::string quote(const std::string &text);

} // namespace gecko::devcheck::json

#endif // GECKO_DEVICECHECK_JSON_H
