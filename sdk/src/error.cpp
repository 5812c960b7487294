#include "s4t/error.hpp"

namespace s4t {
// Out-of-line destructors are the key functions that give each type one exported type_info.
Error::Error(const std::string& message) : std::runtime_error(message) {}
Error::~Error() = default;
ConfigError::ConfigError(const std::string& message) : Error(message) {}
ConfigError::~ConfigError() = default;
PluginError::PluginError(const std::string& message) : Error(message) {}
PluginError::~PluginError() = default;
DataError::DataError(const std::string& message) : Error(message) {}
DataError::~DataError() = default;
}  // namespace s4t
