#pragma once
// Error types shared by the host and plugins. All derive from s4t::Error (a std::runtime_error) so a
// caller can catch one type; the subclasses say which layer to blame.
#include <stdexcept>
#include <string>

#include "s4t/export.hpp"

namespace s4t {

/// Base of every s4t error. The message is complete: it names the file, key or component involved.
class S4T_API Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message);
  ~Error() override;
};

/// A configuration problem: unknown key, wrong type, value out of range, missing file.
class S4T_API ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& message);
  ~ConfigError() override;
};

/// A plugin failed to load, register or build a component.
class S4T_API PluginError : public Error {
 public:
  explicit PluginError(const std::string& message);
  ~PluginError() override;
};

/// Bad input data: a missing or corrupt file, a label out of range, mismatched sizes.
class S4T_API DataError : public Error {
 public:
  explicit DataError(const std::string& message);
  ~DataError() override;
};

}  // namespace s4t
