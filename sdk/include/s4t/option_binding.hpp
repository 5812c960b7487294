#pragma once
// Options declared once. A Binding<Settings> ties each option key to a field of the component's own
// settings struct: the key, type, default, range or choices and doc are written in one line, and the
// Schema (what the host validates and documents) and the reader (Options -> Settings) both come from it,
// so they cannot drift.
//
//   struct Settings { double lr; std::int64_t steps; s4t::OptimizerSpec optimizer; };
//   const auto& binding() {
//     static const auto b = s4t::Binding<Settings>()
//         .real("lr", &Settings::lr, 1e-3, "learning rate", 0.0)
//         .integer("steps", &Settings::steps, 10, "steps", 1)
//         .group(&Settings::optimizer, s4t::optimizer_binding(defaults));
//     return b;
//   }
//   info.schema = binding().schema();   ...   Settings s = binding().read(options);
//
// Header-only: the binding lives in the plugin; only Schema and Options cross the boundary.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "s4t/error.hpp"
#include "s4t/options.hpp"

namespace s4t {

template <class S>
class Binding {
 public:
  using Range = std::optional<double>;

  Binding& flag(const std::string& key, bool S::*field, bool def, const std::string& doc) {
    schema_.add_bool(key, def, doc);
    return reader([=](S& s, const Options& o) { s.*field = o.get_bool(key); });
  }
  Binding& integer(const std::string& key, std::int64_t S::*field, std::int64_t def, const std::string& doc,
                   Range min = std::nullopt, Range max = std::nullopt) {
    schema_.add_int(key, def, doc, min, max);
    return reader([=](S& s, const Options& o) { s.*field = o.get_int(key); });
  }
  Binding& real(const std::string& key, double S::*field, double def, const std::string& doc,
                Range min = std::nullopt, Range max = std::nullopt) {
    schema_.add_float(key, def, doc, min, max);
    return reader([=](S& s, const Options& o) { s.*field = o.get_float(key); });
  }
  Binding& text(const std::string& key, std::string S::*field, const std::string& def, const std::string& doc,
                std::vector<std::string> choices = {}) {
    schema_.add_string(key, def, doc, std::move(choices));
    return reader([=](S& s, const Options& o) { s.*field = o.get_string(key); });
  }
  Binding& integers(const std::string& key, std::vector<std::int64_t> S::*field, std::vector<std::int64_t> def,
                    const std::string& doc, Range min = std::nullopt, Range max = std::nullopt) {
    schema_.add_int_list(key, std::move(def), doc, min, max);
    return reader([=](S& s, const Options& o) { s.*field = o.get_int_list(key); });
  }
  Binding& reals(const std::string& key, std::vector<double> S::*field, std::vector<double> def,
                 const std::string& doc, Range min = std::nullopt, Range max = std::nullopt) {
    schema_.add_float_list(key, std::move(def), doc, min, max);
    return reader([=](S& s, const Options& o) { s.*field = o.get_float_list(key); });
  }
  Binding& texts(const std::string& key, std::vector<std::string> S::*field, std::vector<std::string> def,
                 const std::string& doc) {
    schema_.add_string_list(key, std::move(def), doc);
    return reader([=](S& s, const Options& o) { s.*field = o.get_string_list(key); });
  }
  /// A string option whose choices map to values of any type (an enum, a bool, ...), in `choices` order.
  template <class T>
  Binding& choice(const std::string& key, T S::*field, const std::string& def,
                  std::vector<std::pair<std::string, T>> choices, const std::string& doc) {
    std::vector<std::string> names;
    for (auto& c : choices) names.push_back(c.first);
    schema_.add_string(key, def, doc, names);
    return reader([=](S& s, const Options& o) {
      const std::string& v = o.get_string(key);
      for (auto& c : choices)
        if (c.first == v) {
          s.*field = c.second;
          return;
        }
      throw ConfigError(o.owner() + " " + key + ": '" + v + "' is not one of the declared choices");
    });
  }
  /// The options of `group` (e.g. optimizer_binding()) read into the member `field`.
  template <class G>
  Binding& group(G S::*field, const Binding<G>& group) {
    for (auto& spec : group.schema().options()) schema_.add(spec);
    return reader([=](S& s, const Options& o) { s.*field = group.read(o); });
  }
  /// A value computed from the options after every field is read (derived settings, cross-checks that
  /// throw ConfigError).
  Binding& then(std::function<void(S&, const Options&)> step) { return reader(std::move(step)); }

  const Schema& schema() const { return schema_; }
  /// Settings from validated options (every key of schema() present).
  S read(const Options& options) const {
    S s{};
    for (auto& r : readers_) r(s, options);
    return s;
  }
  /// Settings holding every default.
  S defaults() const { return read(Options::defaults(schema_)); }

 private:
  Binding& reader(std::function<void(S&, const Options&)> r) {
    readers_.push_back(std::move(r));
    return *this;
  }
  Schema schema_;
  std::vector<std::function<void(S&, const Options&)>> readers_;
};

}  // namespace s4t
