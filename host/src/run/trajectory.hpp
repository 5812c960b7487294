#pragma once
// The result of one adaptation run: per-task metrics at every evaluated step, Δ_TTT, the reported
// step and how it was chosen (docs/config.md#step-selection), counters and timings. Written as
// metrics.json / trajectory.csv and read back by `s4t report`.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "s4t/task.hpp"

namespace s4t::host {

/// How the reported step is chosen ([ttt] select). Only `oracle` looks at the labels of the evaluated
/// images; `validation` looks at the labels of a disjoint held-out split.
struct StepSelection {
  enum class Rule { Last, Step, Validation, Oracle };
  Rule rule = Rule::Last;
  std::int64_t step = 0;  ///< Rule::Step: the step N of "step:N"
  /// "last", "step:N", "validation" or "oracle": what [ttt] select holds, and what tables print.
  std::string text() const;
};

/// Parses a [ttt] select value; a ConfigError naming the key and the accepted forms otherwise.
StepSelection parse_step_selection(const std::string& text);

/// Index of the highest Δ_TTT among steps ≥ 1 (index 0 when only step 0 was evaluated; the first on ties).
std::size_t best_step_index(const std::vector<double>& delta);

/// What a target stream ([ttt] stream other than "single", docs/streams.md) measured besides the whole
/// stream's trajectory: the same per-step metrics for each result group (each segment of a continual or
/// gradual stream, in stream order; each domain of a mixed one), and each batch's metrics before and
/// after adaptation in stream order (the continual-stream curve of `s4t report`).
struct StreamResult {
  struct Group {
    std::string label;  ///< the domain ("fog:5", a [domain.<name>] table); gradual: "<domain>@<severity>"
    std::int64_t images = 0, batches = 0;
    std::vector<std::vector<double>> values;  ///< [step index][task]
    std::vector<double> delta;                ///< Δ_TTT vs the group's own step 0
  };
  struct BatchRecord {
    std::size_t group = 0;  ///< continual / gradual: its segment; mixed: the domain of most of its images
    std::int64_t images = 0;
    std::vector<double> before, after;  ///< per task, at step 0 and at the last step
    double delta = 0.0;                 ///< Δ_TTT of `after` vs `before`
  };
  std::string kind = "single";  ///< [ttt] stream
  std::string reset;            ///< never, per_domain or per_batch
  std::vector<Group> groups;
  std::vector<BatchRecord> batches;
  bool active() const { return kind != "single"; }
};

struct Trajectory {
  std::string method;
  std::string protocol;
  std::vector<TaskSpec> tasks;
  std::vector<std::int64_t> steps;            ///< evaluated steps; steps[0] == 0 (before adaptation)
  std::vector<std::vector<double>> values;    ///< [step index][task]
  std::vector<double> delta;                  ///< Δ_TTT of each evaluated step vs step 0
  std::vector<double> loss;                   ///< mean test-time loss at steps 1..S (empty for `none`)
  std::size_t best = 0;                       ///< oracle: index into steps with the highest Δ_TTT (step ≥ 1 when S ≥ 1)
  std::string selection = "last";             ///< how `selected` was chosen (StepSelection::text())
  std::size_t selected = 0;                   ///< index into steps of the reported step
  std::int64_t images = 0;                    ///< target images evaluated (the validation split excluded); 0 = not recorded
  std::array<std::int64_t, 2> grid_size{0, 0};   ///< image size the model was built for ([ttt] grid); 0 = not recorded
  std::array<std::int64_t, 2> fused_size{0, 0};  ///< the backbone's fused-feature grid at that size (0 = none)
  // select = validation: the same protocol on the held-out split (empty otherwise).
  std::int64_t validation_images = 0;
  std::vector<std::vector<double>> validation_values;  ///< [step index][task]
  std::vector<double> validation_delta;                ///< Δ_TTT vs the validation split's own step 0
  std::int64_t batches = 0, updates = 0, nonfinite_steps = 0;
  double seconds = 0.0, step_ms = 0.0, predict_ms = 0.0;
  std::int64_t seed = 0;
  nlohmann::json affinity;                    ///< see task_affinity.hpp; empty when the method has no latents
  StreamResult stream;                        ///< per domain and per batch; kind "single" = not a stream

  /// Index of the final evaluated step.
  std::size_t last() const { return steps.empty() ? 0 : steps.size() - 1; }
  /// Index `rule` picks: last = the final step; step:N = N (an Error if N was not evaluated); oracle =
  /// `best`; validation = the best step on validation_delta (an Error if there is none).
  std::size_t index_for(const StepSelection& rule) const;
  /// Sets `selection` and `selected` from `rule`.
  void select(const StepSelection& rule);

  /// SV, DTW and CS (supplement §B) over steps ≥ 1, on the signed relative gain (default) and on the
  /// raw metric (negated where lower is better); empty when fewer than two steps were evaluated.
  nlohmann::json synchronization() const;
  nlohmann::json to_json() const;
  /// Reads to_json() back exactly (tasks with their metric kind), and metrics.json of earlier versions
  /// (without a recorded selection: the last step is reported, selection "last").
  static Trajectory from_json(const nlohmann::json& j);
  /// step, then one column per task, then delta_ttt
  std::string to_csv() const;
};

}  // namespace s4t::host
