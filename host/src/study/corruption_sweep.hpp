#pragma once
// `s4t compare CONFIG --corruptions all|a,b,... [--severities 1,...]`: one comparison per corruption and
// severity of the target set ([data.target] corruption / severity, any dataset; docs/corruptions.md),
// all adapting one set of source models (trained by the first point, copied into the others: the
// corruption changes only the target side), summarised per severity as a table corruption x method of
// Δ_TTT with the mean over corruptions and each method's rank by it. Every point's config and target
// dataset is built before the first trains, so a bad name costs nothing. Folders:
// <run>/severity-<s>/sweep-data.target.corruption-<name>/ (each a comparison, with sweep.json per
// severity); the summary is <run>/corruptions.md.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "config/config_tree.hpp"
#include "plugins/component_registry.hpp"

namespace s4t::host {

/// "all" is the 15 ImageNet-C corruptions (Hendrycks & Dietterich 2019, the imagecorruptions names;
/// the dataset plugins implement them and the extra ones); otherwise the comma-separated names as given.
std::vector<std::string> expand_corruptions(const std::string& list);

struct CorruptionSweepResult {
  std::string table;           ///< what corruptions.md holds
  std::filesystem::path dir;   ///< the run folder holding corruptions.md
  bool any_failed = false;     ///< some method failed somewhere (its cells say so)
};

/// `severities` empty: the config's own [data.target] severity. `methods` / `seeds` as run_comparison.
CorruptionSweepResult run_corruption_sweep(const ConfigTree& config, const ComponentRegistry& registry,
                                           const std::vector<std::string>& corruptions,
                                           const std::vector<std::int64_t>& severities,
                                           const std::vector<std::string>& methods,
                                           const std::vector<std::int64_t>& seeds, const std::string& config_name,
                                           const std::string& command_line);

}  // namespace s4t::host
