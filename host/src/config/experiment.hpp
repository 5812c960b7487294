#pragma once
// A validated experiment: every key checked against the host's and the selected plugins' schemas,
// defaults filled in. Nothing is built yet.
#include <filesystem>
#include <map>
#include <set>
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

/// One domain of a target stream ([ttt] domains, docs/streams.md): its name as listed and the dataset it
/// is: [data.target] with the domain's overrides (a "<corruption>[:<severity>]" name or a [domain.<name>] table).
struct TargetDomain {
  std::string name;
  ComponentChoice data;
};

/// The typed options are the experiment's only copy of its configuration: the resolved config that a
/// run directory stores is rendered from them (resolved()), so what is written is what runs.
struct Experiment {
  std::map<std::string, Options> host;   ///< "run", "model", "tasks", "data", "train", "ttt", "compare", "plugins"
  ComponentChoice backbone, head, source, target;
  std::vector<TargetDomain> domains;  ///< [ttt] domains, resolved (empty for stream = "single")
  std::map<std::string, Options> methods;  ///< every registered method: defaults + [method.<name>]
  /// Methods whose options the resolved config lists: [ttt] method, [compare] methods, those with a table.
  std::set<std::string> listed_methods;
  /// [backbone.<name>] / [head.<name>] tables of components not chosen: checked, and kept in the resolved config.
  std::map<std::string, Options> other_tables;
  std::filesystem::path config_dir;
  std::vector<std::string> files;  ///< config files read, outermost first

  const Options& section(const std::string& name) const { return host.at(name); }
  /// The options of method `name` (ConfigError naming the valid methods if unknown).
  const Options& method_options(const std::string& name) const;
  /// Run directory: <output_dir>/<name>.
  std::filesystem::path run_dir() const;
  /// Sets host key `key` ("run.seed"); ConfigError naming `where` when the key or value is not valid.
  void set(const std::string& key, const Value& value, const std::string& where);
  /// Every value the experiment uses as a config tree: host tables, [data.source] / [data.target], the
  /// chosen backbone and head, the listed methods (what the run directory stores as config.toml).
  ConfigTree resolved() const;
};

/// Reads [plugins].dirs (checked against its schema) before any plugin is loaded; paths are resolved
/// against the config's folder. A folder that does not exist is a ConfigError naming the file and key.
std::vector<std::filesystem::path> config_plugin_dirs(const ConfigTree& tree);

/// Validates `tree` against every schema. Throws ConfigError with file:line:col of the offending key (or
/// table header), the key and what was expected (with a "did you mean" for unknown keys and names).
Experiment validate_experiment(const ConfigTree& tree, const ComponentRegistry& registry);

}  // namespace s4t::host
