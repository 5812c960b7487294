#pragma once
// Component configuration: a schema every component publishes (key, type, default, range or
// choices, one-line doc) and the validated option values it receives. The host turns TOML into
// Options after checking it against the Schema, so plugins never parse TOML themselves.
// Thread-safety: immutable after construction; safe to read from any thread.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>
#include <map>

#include "s4t/export.hpp"

namespace s4t {

enum class ValueType { Bool, Int, Float, String, IntList, FloatList, StringList };

/// One option value. Int is accepted where Float is expected.
using Value = std::variant<bool, std::int64_t, double, std::string, std::vector<std::int64_t>,
                           std::vector<double>, std::vector<std::string>>;

/// Human-readable name of a type, e.g. "float" or "list of strings".
S4T_API std::string type_name(ValueType type);
/// The type a Value holds.
S4T_API ValueType type_of(const Value& value);
/// TOML-like rendering of a value ("0.8", "\"s4t\"", "[1, 2]"): integers as integers, floats in the
/// shortest form that reads back as the same number (0.1, 1.0, 2e-05).
S4T_API std::string to_string(const Value& value);

/// Description of one option.
struct S4T_API OptionSpec {
  std::string key;
  ValueType type = ValueType::Float;
  Value default_value;
  std::optional<double> min;          ///< inclusive lower bound (numbers, and each list element)
  std::optional<double> max;          ///< inclusive upper bound
  std::vector<std::string> choices;   ///< allowed strings (empty = any)
  std::string doc;                    ///< one line

  /// Empty if `value` is acceptable, otherwise a sentence saying what was expected.
  std::string check(const Value& value) const;
};

/// The bounds of a numeric option as its type prints them: "[1, 64]", "[0.0, inf]"; "" when it has none.
S4T_API std::string range_to_string(const OptionSpec& spec);

/// The ordered list of options a component accepts.
class S4T_API Schema {
 public:
  Schema& add_bool(const std::string& key, bool def, const std::string& doc);
  Schema& add_int(const std::string& key, std::int64_t def, const std::string& doc,
                  std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt);
  Schema& add_float(const std::string& key, double def, const std::string& doc,
                    std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt);
  Schema& add_string(const std::string& key, const std::string& def, const std::string& doc,
                     std::vector<std::string> choices = {});
  Schema& add_int_list(const std::string& key, std::vector<std::int64_t> def, const std::string& doc,
                       std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt);
  Schema& add_float_list(const std::string& key, std::vector<double> def, const std::string& doc,
                         std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt);
  Schema& add_string_list(const std::string& key, std::vector<std::string> def, const std::string& doc);
  Schema& add(OptionSpec spec);

  const OptionSpec* find(const std::string& key) const;
  const std::vector<OptionSpec>& options() const { return options_; }
  std::vector<std::string> keys() const;

 private:
  std::vector<OptionSpec> options_;
};

/// Validated values for one component: every key of its schema is present (defaults filled in).
class S4T_API Options {
 public:
  Options() = default;
  explicit Options(std::string owner) : owner_(std::move(owner)) {}

  void set(const std::string& key, Value value);
  bool has(const std::string& key) const;

  bool get_bool(const std::string& key) const;
  std::int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;  ///< also reads ints
  const std::string& get_string(const std::string& key) const;
  std::vector<std::int64_t> get_int_list(const std::string& key) const;
  std::vector<double> get_float_list(const std::string& key) const;  ///< also reads int lists
  const std::vector<std::string>& get_string_list(const std::string& key) const;

  const std::map<std::string, Value>& values() const { return values_; }
  /// Where these options came from, e.g. "[method.s4t]"; used in error messages.
  const std::string& owner() const { return owner_; }

  /// Options holding every default of `schema`.
  static Options defaults(const Schema& schema, std::string owner = {});

 private:
  const Value& at(const std::string& key) const;
  std::string owner_;
  std::map<std::string, Value> values_;
};

}  // namespace s4t
