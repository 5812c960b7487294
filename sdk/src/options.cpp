#include "s4t/options.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <system_error>

#include "s4t/error.hpp"

namespace s4t {

std::string type_name(ValueType type) {
  switch (type) {
    case ValueType::Bool: return "bool";
    case ValueType::Int: return "integer";
    case ValueType::Float: return "float";
    case ValueType::String: return "string";
    case ValueType::IntList: return "list of integers";
    case ValueType::FloatList: return "list of floats";
    case ValueType::StringList: return "list of strings";
  }
  return "?";
}

ValueType type_of(const Value& value) { return static_cast<ValueType>(value.index()); }

namespace {
// Shortest text that reads back as the same double (0.1, not 0.10000000000000001), marked as a float
// ("1.0", not "1"): what the user would have written.
std::string number_text(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string s = ec == std::errc() ? std::string(buf, end) : std::string("nan");
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}
// A bound or value of an option of `type`: integers as integers.
std::string bound_text(ValueType type, double v) {
  const bool integral = type == ValueType::Int || type == ValueType::IntList;
  if (integral && std::isfinite(v) && v == std::trunc(v)) return std::to_string(static_cast<std::int64_t>(v));
  return number_text(v);
}
template <typename T, typename F>
std::string list_text(const std::vector<T>& items, F each) {
  std::string s = "[";
  for (size_t i = 0; i < items.size(); ++i) s += (i ? ", " : "") + each(items[i]);
  return s + "]";
}
// A TOML basic string: quotes, backslashes and control characters escaped.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}
}  // namespace

std::string to_string(const Value& value) {
  switch (type_of(value)) {
    case ValueType::Bool: return std::get<bool>(value) ? "true" : "false";
    case ValueType::Int: return std::to_string(std::get<std::int64_t>(value));
    case ValueType::Float: return number_text(std::get<double>(value));
    case ValueType::String: return quoted(std::get<std::string>(value));
    case ValueType::IntList:
      return list_text(std::get<std::vector<std::int64_t>>(value), [](std::int64_t v) { return std::to_string(v); });
    case ValueType::FloatList: return list_text(std::get<std::vector<double>>(value), number_text);
    case ValueType::StringList: return list_text(std::get<std::vector<std::string>>(value), quoted);
  }
  return "?";
}

std::string range_to_string(const OptionSpec& spec) {
  if (!spec.min && !spec.max) return {};
  return "[" + (spec.min ? bound_text(spec.type, *spec.min) : std::string("-inf")) + ", " +
         (spec.max ? bound_text(spec.type, *spec.max) : std::string("inf")) + "]";
}

std::string OptionSpec::check(const Value& value) const {
  ValueType got = type_of(value);
  bool type_ok = got == type || (type == ValueType::Float && got == ValueType::Int) ||
                 (type == ValueType::FloatList && got == ValueType::IntList);
  if (!type_ok) return "expected " + type_name(type) + ", got " + type_name(got) + " " + to_string(value);
  auto range_msg = [&](double v) -> std::string {
    if ((min && v < *min) || (max && v > *max) || std::isnan(v)) {
      std::string m = "value " + bound_text(got, v) + " is out of range; expected ";
      if (!min && !max) return m + "a number";
      if (min && max) return m + "a value in [" + bound_text(type, *min) + ", " + bound_text(type, *max) + "]";
      if (min) return m + "a value >= " + bound_text(type, *min);
      return m + "a value <= " + bound_text(type, *max);
    }
    return {};
  };
  switch (got) {
    case ValueType::Int: return range_msg(static_cast<double>(std::get<std::int64_t>(value)));
    case ValueType::Float: return range_msg(std::get<double>(value));
    case ValueType::IntList:
      for (auto v : std::get<std::vector<std::int64_t>>(value))
        if (auto m = range_msg(static_cast<double>(v)); !m.empty()) return m;
      return {};
    case ValueType::FloatList:
      for (auto v : std::get<std::vector<double>>(value))
        if (auto m = range_msg(v); !m.empty()) return m;
      return {};
    case ValueType::String:
      if (!choices.empty() &&
          std::find(choices.begin(), choices.end(), std::get<std::string>(value)) == choices.end()) {
        std::string list;
        for (auto& c : choices) list += (list.empty() ? "" : ", ") + quoted(c);
        return "value " + quoted(std::get<std::string>(value)) + " is not one of " + list;
      }
      return {};
    case ValueType::StringList:
      if (!choices.empty())
        for (auto& s : std::get<std::vector<std::string>>(value))
          if (std::find(choices.begin(), choices.end(), s) == choices.end())
            return "list element " + quoted(s) + " is not an allowed value";
      return {};
    default: return {};
  }
}

Schema& Schema::add(OptionSpec spec) {
  if (find(spec.key)) throw ConfigError("schema declares option '" + spec.key + "' twice");
  options_.push_back(std::move(spec));
  return *this;
}
Schema& Schema::add_bool(const std::string& key, bool def, const std::string& doc) {
  return add({key, ValueType::Bool, def, {}, {}, {}, doc});
}
Schema& Schema::add_int(const std::string& key, std::int64_t def, const std::string& doc, std::optional<double> min,
                        std::optional<double> max) {
  return add({key, ValueType::Int, def, min, max, {}, doc});
}
Schema& Schema::add_float(const std::string& key, double def, const std::string& doc, std::optional<double> min,
                          std::optional<double> max) {
  return add({key, ValueType::Float, def, min, max, {}, doc});
}
Schema& Schema::add_string(const std::string& key, const std::string& def, const std::string& doc,
                           std::vector<std::string> choices) {
  return add({key, ValueType::String, def, {}, {}, std::move(choices), doc});
}
Schema& Schema::add_int_list(const std::string& key, std::vector<std::int64_t> def, const std::string& doc,
                             std::optional<double> min, std::optional<double> max) {
  return add({key, ValueType::IntList, std::move(def), min, max, {}, doc});
}
Schema& Schema::add_float_list(const std::string& key, std::vector<double> def, const std::string& doc,
                               std::optional<double> min, std::optional<double> max) {
  return add({key, ValueType::FloatList, std::move(def), min, max, {}, doc});
}
Schema& Schema::add_string_list(const std::string& key, std::vector<std::string> def, const std::string& doc) {
  return add({key, ValueType::StringList, std::move(def), {}, {}, {}, doc});
}
const OptionSpec* Schema::find(const std::string& key) const {
  for (auto& o : options_)
    if (o.key == key) return &o;
  return nullptr;
}
std::vector<std::string> Schema::keys() const {
  std::vector<std::string> k;
  for (auto& o : options_) k.push_back(o.key);
  return k;
}

void Options::set(const std::string& key, Value value) { values_[key] = std::move(value); }
bool Options::has(const std::string& key) const { return values_.count(key) != 0; }

const Value& Options::at(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end())
    throw ConfigError("option '" + key + "' is not set" + (owner_.empty() ? "" : " in " + owner_) +
                      " (is it declared in the component's schema?)");
  return it->second;
}

namespace {
[[noreturn]] void wrong_type(const std::string& owner, const std::string& key, ValueType want, const Value& v) {
  throw ConfigError("option '" + key + "'" + (owner.empty() ? "" : " in " + owner) + " holds " +
                    type_name(type_of(v)) + " " + to_string(v) + ", but the component reads it as " +
                    type_name(want));
}
}  // namespace

bool Options::get_bool(const std::string& key) const {
  const Value& v = at(key);
  if (auto p = std::get_if<bool>(&v)) return *p;
  wrong_type(owner_, key, ValueType::Bool, v);
}
std::int64_t Options::get_int(const std::string& key) const {
  const Value& v = at(key);
  if (auto p = std::get_if<std::int64_t>(&v)) return *p;
  wrong_type(owner_, key, ValueType::Int, v);
}
double Options::get_float(const std::string& key) const {
  const Value& v = at(key);
  if (auto p = std::get_if<double>(&v)) return *p;
  if (auto p = std::get_if<std::int64_t>(&v)) return static_cast<double>(*p);
  wrong_type(owner_, key, ValueType::Float, v);
}
const std::string& Options::get_string(const std::string& key) const {
  const Value& v = at(key);
  if (auto p = std::get_if<std::string>(&v)) return *p;
  wrong_type(owner_, key, ValueType::String, v);
}
std::vector<std::int64_t> Options::get_int_list(const std::string& key) const {
  const Value& v = at(key);
  if (auto p = std::get_if<std::vector<std::int64_t>>(&v)) return *p;
  wrong_type(owner_, key, ValueType::IntList, v);
}
std::vector<double> Options::get_float_list(const std::string& key) const {
  const Value& v = at(key);
  if (auto p = std::get_if<std::vector<double>>(&v)) return *p;
  if (auto p = std::get_if<std::vector<std::int64_t>>(&v)) return std::vector<double>(p->begin(), p->end());
  wrong_type(owner_, key, ValueType::FloatList, v);
}
const std::vector<std::string>& Options::get_string_list(const std::string& key) const {
  const Value& v = at(key);
  if (auto p = std::get_if<std::vector<std::string>>(&v)) return *p;
  wrong_type(owner_, key, ValueType::StringList, v);
}

Options Options::defaults(const Schema& schema, std::string owner) {
  Options o(std::move(owner));
  for (auto& spec : schema.options()) o.set(spec.key, spec.default_value);
  return o;
}

}  // namespace s4t
