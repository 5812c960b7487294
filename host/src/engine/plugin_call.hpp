#pragma once
// Every call from the host into a plugin goes through call_plugin(): whatever the plugin throws comes
// back as one error naming the component, its file, the phase and (while adapting) batch and step.
// ConfigError and DataError keep their type (so exit codes stay right); anything else, including
// exceptions that are not std::exception, becomes PluginError.
#include <c10/util/Exception.h>

#include <optional>
#include <string>
#include <utility>

#include "s4t/error.hpp"
#include "s4t/method.hpp"

namespace s4t::host {

/// "<label> failed in <phase>[ at batch B, step S]: ".
std::string plugin_failure_prefix(const std::string& label, const std::string& phase,
                                  const std::optional<AdaptContext>& context);

template <class F>
auto call_plugin(const std::string& label, const std::string& phase, const std::optional<AdaptContext>& context,
                 F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const ConfigError& e) {
    throw ConfigError(plugin_failure_prefix(label, phase, context) + e.what());
  } catch (const DataError& e) {
    throw DataError(plugin_failure_prefix(label, phase, context) + e.what());
  } catch (const c10::Error& e) {
    throw PluginError(plugin_failure_prefix(label, phase, context) + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw PluginError(plugin_failure_prefix(label, phase, context) + e.what());
  } catch (...) {
    throw PluginError(plugin_failure_prefix(label, phase, context) +
                      "threw something that is not a std::exception (a plugin bug)");
  }
}

}  // namespace s4t::host
