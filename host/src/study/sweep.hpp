#pragma once
// A sweep: one comparison per value of a config key, summarised as Δ_TTT per method and value at the
// step [ttt] select chooses, with the oracle and last-step Δ_TTT beside it in sweep.json (sweep.json,
// sweep.md in <output_dir>/<run name>/).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config_tree.hpp"
#include "plugins/component_registry.hpp"

namespace s4t::host {

struct SweepResult {
  nlohmann::json summary;       ///< what sweep.json holds
  std::string table;            ///< what sweep.md holds
  std::filesystem::path dir;    ///< where both are
  bool any_failed = false;      ///< some method failed at some point (its cells say so)
};

/// `config` is the experiment as loaded (overrides applied); each point sets `key` to one of `values`
/// (TOML literals) and runs in <run name>/sweep-<key>-<value>/. `methods` / `seeds` as run_comparison.
SweepResult run_sweep(const ConfigTree& config, const ComponentRegistry& registry, const std::string& key,
                      const std::vector<std::string>& values, const std::vector<std::string>& methods,
                      const std::vector<std::int64_t>& seeds, const std::string& config_name,
                      const std::string& command_line);

}  // namespace s4t::host
