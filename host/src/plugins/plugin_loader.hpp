#pragma once
// Finds plugin libraries and loads them with Boost.DLL after checking their versioned handshake.
#include <filesystem>
#include <string>
#include <vector>

#include "plugins/component_registry.hpp"

namespace s4t::host {

/// Folders searched for plugins, in order: `cli_dirs` (--plugin-dir), $S4T_PLUGIN_PATH (':'-separated),
/// `config_dirs` ([plugins].dirs), <prefix>/lib/s4t/plugins next to the executable, the build tree.
std::vector<std::filesystem::path> plugin_search_path(const std::vector<std::filesystem::path>& cli_dirs,
                                                      const std::vector<std::filesystem::path>& config_dirs);

/// Loads every *.so in each folder (sorted by name); failures are recorded in the registry, never thrown.
void load_plugin_dirs(const std::vector<std::filesystem::path>& dirs, ComponentRegistry& registry);

/// Loads one library. Returns false (and records why) when it is refused.
bool load_plugin_file(const std::filesystem::path& file, ComponentRegistry& registry);

}  // namespace s4t::host
