#pragma once
// A sweep: one comparison per value of a config key, summarised as Δ_TTT per method and value at the
// step [ttt] select chooses, with the oracle and last-step Δ_TTT beside it in sweep.json (sweep.json,
// sweep.md in <output_dir>/<run name>/).
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config_tree.hpp"
#include "plugins/component_registry.hpp"

namespace s4t::host {

/// How the points of a sweep relate.
struct SweepOptions {
  /// The key changes only the target side (e.g. data.target.corruption): every point adapts the source
  /// models of the first (or of `source_from`'s comparison folder), copied into its seed folders.
  bool share_source = false;
  std::filesystem::path source_from;  ///< a comparison folder holding seed-<k>/source/ (empty: the first point)
  bool summary_rows = false;          ///< add the mean over points and each method's rank by that mean
  std::string label;                  ///< sweep.json "label": tells apart sweeps of one key (figure names)
};

struct SweepResult {
  nlohmann::json summary;       ///< what sweep.json holds
  std::string table;            ///< what sweep.md holds
  std::filesystem::path dir;    ///< where both are
  bool any_failed = false;      ///< some method failed at some point (its cells say so)
  std::filesystem::path first_point_dir;  ///< the first point's comparison folder
  std::vector<std::string> methods;       ///< the compared methods, "none" (Base) first
  /// Δ_TTT at the selected step per method (not Base), one entry per point; NaN where the method failed.
  std::map<std::string, std::vector<double>> delta;
};

/// `config` is the experiment as loaded (overrides applied); each point sets `key` to one of `values`
/// (TOML literals) and runs in <run name>/sweep-<key>-<value>/. `methods` / `seeds` as run_comparison.
SweepResult run_sweep(const ConfigTree& config, const ComponentRegistry& registry, const std::string& key,
                      const std::vector<std::string>& values, const std::vector<std::string>& methods,
                      const std::vector<std::int64_t>& seeds, const std::string& config_name,
                      const std::string& command_line, const SweepOptions& options = {});

}  // namespace s4t::host
