#pragma once
// Test-time adaptation (docs/methods.md#protocols): protocols episodic, online and single_batch_then_eval;
// S steps per batch; per-step, per-task metrics over the whole target set; Base at step 0; Δ_TTT at
// every evaluated step and the best step.
#include <filesystem>
#include <string>
#include <vector>

#include "config/experiment.hpp"
#include "plugins/component_registry.hpp"
#include "run/trajectory.hpp"

namespace s4t::host {


/// Adapts the source checkpoint at `checkpoint` with `method_name` on the target set.
Trajectory adapt(const Experiment& x, const ComponentRegistry& registry, const std::string& method_name,
                 const std::filesystem::path& checkpoint);

/// Evaluates a checkpoint (no adaptation) on the source or target set: one value per task.
std::vector<std::pair<TaskSpec, double>> evaluate(const Experiment& x, const ComponentRegistry& registry,
                                                  const std::filesystem::path& checkpoint, const std::string& role);

}  // namespace s4t::host
