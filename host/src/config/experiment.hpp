#pragma once
// A validated experiment: every key checked against the host's and the selected plugins' schemas,
// defaults filled in. Nothing is built yet.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "config/config_tree.hpp"
#include "plugins/component_registry.hpp"
#include "s4t/options.hpp"

namespace s4t::host {

struct ComponentChoice {
  std::string name;
  Options options;
};

struct Experiment {
  ConfigTree tree;                       ///< resolved: user values plus filled-in defaults
  std::map<std::string, Options> host;   ///< "run", "model", "tasks", "data", "train", "ttt", "compare", "plugins"
  ComponentChoice backbone, head, source, target;
  std::map<std::string, Options> methods;  ///< every registered method: defaults + [method.<name>]
  std::filesystem::path config_dir;

  const Options& section(const std::string& name) const { return host.at(name); }
  /// The options of method `name` (ConfigError naming the valid methods if unknown).
  const Options& method_options(const std::string& name) const;
  /// Run directory: <output_dir>/<name>.
  std::filesystem::path run_dir() const;
};

/// Reads [plugins].dirs (checked against its schema) before any plugin is loaded; paths are resolved
/// against the config's folder.
std::vector<std::filesystem::path> config_plugin_dirs(const ConfigTree& tree);

/// Validates `tree` against every schema. Throws ConfigError with file:line:col, the key and what was
/// expected (with a "did you mean" for unknown keys and names).
Experiment validate_experiment(const ConfigTree& tree, const ComponentRegistry& registry);

}  // namespace s4t::host
