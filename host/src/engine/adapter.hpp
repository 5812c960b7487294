#pragma once
// Test-time adaptation (docs/methods.md#protocols): protocols episodic, online and single_batch_then_eval;
// S steps per batch; per-step, per-task metrics over the whole target set; Base at step 0; Δ_TTT at
// every evaluated step; the oracle best step and the reported step chosen by [ttt] select (on a held-out
// validation split of the target set for select = "validation"; docs/config.md#step-selection).
#include <filesystem>
#include <string>
#include <vector>

#include "config/experiment.hpp"
#include "plugins/component_registry.hpp"
#include "run/trajectory.hpp"

namespace s4t::host {

/// [ttt] select, checked against the experiment: step:N must be an evaluated step (0, multiples of
/// eval_every below steps, and steps), validation needs validation_size ≥ 1. ConfigError otherwise.
StepSelection step_selection(const Experiment& x);

/// Image size the test-time model is built for: [ttt] grid_size when set, else ([ttt] grid) the source's image size or the target's
/// (a ConfigError when the target's size varies).
std::array<std::int64_t, 2> test_time_size(const Experiment& x, const Dataset& source, const Dataset& target);

/// Adapts the source checkpoint at `checkpoint` with `method_name` on the target set.
Trajectory adapt(const Experiment& x, const ComponentRegistry& registry, const std::string& method_name,
                 const std::filesystem::path& checkpoint);

/// Evaluates a checkpoint (no adaptation) on the source or target set: one value per task. The model
/// is built for test_time_size() on the target set and for the source size on the source set.
std::vector<std::pair<TaskSpec, double>> evaluate(const Experiment& x, const ComponentRegistry& registry,
                                                  const std::filesystem::path& checkpoint, const std::string& role);

}  // namespace s4t::host
