#pragma once
// Source training (docs/methods.md#task-losses) with periodic atomic checkpoints and resume, and the methods'
// post-training stage (source statistics, separately trained modules).
#include <filesystem>
#include <string>

#include "config/experiment.hpp"
#include "plugins/component_registry.hpp"
#include "run/run_directory.hpp"

namespace s4t::host {

struct TrainRequest {
  bool resume = false;  ///< continue a partial checkpoint
  bool force = false;   ///< retrain even if a finished checkpoint exists
};

/// Makes sure the source checkpoint that `method_name` adapts from exists (training, or post-training
/// from the shared base checkpoint, as needed) and returns its path.
std::filesystem::path ensure_source_checkpoint(const Experiment& x, const ComponentRegistry& registry,
                                               const RunDirectory& run, const std::string& method_name,
                                               const TrainRequest& request = {});

/// The finished checkpoint of `key` ("base" or a method), or "" if it does not exist yet.
std::filesystem::path finished_checkpoint(const RunDirectory& run, const std::string& key);

}  // namespace s4t::host
