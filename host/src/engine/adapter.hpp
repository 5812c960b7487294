#pragma once
// Test-time adaptation (METHODS.md §1.4): protocols episodic, online and single_batch_then_eval;
// S steps per batch; per-step, per-task metrics over the whole target set; Base at step 0; Δ_TTT at
// every evaluated step and the best step.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/experiment.hpp"
#include "plugins/component_registry.hpp"
#include "s4t/task.hpp"

namespace s4t::host {

struct Trajectory {
  std::string method;
  std::string protocol;
  std::vector<TaskSpec> tasks;
  std::vector<std::int64_t> steps;            ///< evaluated steps; steps[0] == 0 (before adaptation)
  std::vector<std::vector<double>> values;    ///< [step index][task]
  std::vector<double> delta;                  ///< Δ_TTT of each evaluated step vs step 0
  std::vector<double> loss;                   ///< mean test-time loss at steps 1..S (empty for `none`)
  std::size_t best = 0;                       ///< index into steps with the highest Δ_TTT (step ≥ 1 when S ≥ 1)
  std::int64_t batches = 0, updates = 0, nonfinite_steps = 0;
  double seconds = 0.0, step_ms = 0.0, predict_ms = 0.0;
  std::int64_t seed = 0;
  nlohmann::json affinity;                    ///< see task_affinity.hpp; empty when the method has no latents

  /// SV, DTW and CS (supplement §B) over steps ≥ 1, on the signed relative gain (default) and on the
  /// raw metric (negated where lower is better); empty when fewer than two steps were evaluated.
  nlohmann::json synchronization() const;
  nlohmann::json to_json() const;
  static Trajectory from_json(const nlohmann::json& j);
  /// step, then one column per task, then delta_ttt
  std::string to_csv() const;
};

/// Adapts the source checkpoint at `checkpoint` with `method_name` on the target set.
Trajectory adapt(const Experiment& x, const ComponentRegistry& registry, const std::string& method_name,
                 const std::filesystem::path& checkpoint);

/// Evaluates a checkpoint (no adaptation) on the source or target set: one value per task.
std::vector<std::pair<TaskSpec, double>> evaluate(const Experiment& x, const ComponentRegistry& registry,
                                                  const std::filesystem::path& checkpoint, const std::string& role);

}  // namespace s4t::host
