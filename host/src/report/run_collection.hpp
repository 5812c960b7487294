#pragma once
// Finds the adaptation results under run directories (adapt/<method>/metrics.json, also inside
// seed-<k>/ and sweep folders) and groups them by method, one trajectory per seed; and the methods
// that failed (adapt/<method>/failed.json).
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "run/trajectory.hpp"

namespace s4t::host {

struct RunCollection {
  std::vector<std::string> methods;                     ///< "none" first, then in the order found
  std::map<std::string, std::vector<Trajectory>> runs;  ///< method -> trajectories (one per seed)
  std::map<std::string, std::string> failures;          ///< method -> error of its first failed run
  std::vector<nlohmann::json> sweeps;                   ///< contents of sweep.json files found
};

/// Throws s4t::Error naming the folder when nothing is found.
RunCollection collect_runs(const std::vector<std::filesystem::path>& dirs);

}  // namespace s4t::host
