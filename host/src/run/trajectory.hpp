#pragma once
// The result of one adaptation run: per-task metrics at every evaluated step, Δ_TTT, the selected
// step, counters and timings. Written as metrics.json / trajectory.csv and read back by `s4t report`.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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
  /// Reads to_json() back exactly (tasks with their metric kind), and metrics.json of earlier versions.
  static Trajectory from_json(const nlohmann::json& j);
  /// step, then one column per task, then delta_ttt
  std::string to_csv() const;
};

}  // namespace s4t::host
