#pragma once
// Shared start-up of every command: runtime tuning, config loading, plugin discovery, validation.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/experiment.hpp"
#include "plugins/component_registry.hpp"

namespace s4t::host {

/// Options every command accepts.
struct CommonArgs {
  std::vector<std::string> plugin_dirs;  ///< --plugin-dir
  std::vector<std::string> sets;         ///< --set key=value
  std::string log_level;                 ///< --log-level (overrides [run] log_level)
  std::string command_line;
};

/// Sets LibTorch threads (0 = every core this process may use) and tunes glibc malloc.
void configure_runtime(int threads);

struct HostContext {
  ComponentRegistry registry;
  std::optional<ConfigTree> config;  ///< as loaded, --set overrides applied (open_experiment only)
  std::optional<Experiment> experiment;
};

/// Loads plugins only (for `s4t plugins`). A --plugin-dir that is not a folder is a ConfigError.
HostContext open_plugins(const CommonArgs& args);
/// Loads the config (+ overrides), plugins, validates, applies [run] threads and log level.
HostContext open_experiment(const std::filesystem::path& config, const CommonArgs& args);

}  // namespace s4t::host
