#pragma once
// The Table-4-style comparison: per-task metric of each method at its reported step (the one its run
// selected by [ttt] select: last, step:N, validation or oracle), Δ_TTT there against the Base
// ([compare] base: the shared `none` model or each method's own step 0), and beside it Δ_TTT at the
// oracle step (best on the evaluated labels, the paper's Table 4 protocol) and at the last step; mean ±
// std over seeds. The caption says which step and which Base. A method that failed has a row saying so.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "run/trajectory.hpp"

namespace s4t::host {

struct ResultRow {
  std::string name;                     ///< "Base" or the method
  std::string failure;                  ///< non-empty: the method failed with this message (no values)
  std::vector<double> mean, stddev;     ///< per task, at the reported step
  double delta_mean = 0.0, delta_std = 0.0;  ///< Δ_TTT (%) at the reported step vs the Base
  double step_mean = 0.0;                    ///< the reported step
  double oracle_delta_mean = 0.0, oracle_delta_std = 0.0;  ///< Δ_TTT at the best step on the evaluated labels
  double oracle_step_mean = 0.0;
  double last_delta_mean = 0.0, last_delta_std = 0.0;      ///< Δ_TTT at the final step
  std::size_t seeds = 0;
};

struct ResultsTable {
  std::vector<TaskSpec> tasks;
  std::vector<ResultRow> rows;
  std::string selection = "last";  ///< how the reported steps were chosen ("mixed: ..." if runs differ)
  std::string base = "shared";     ///< shared or step0 ([compare] base)

  /// One sentence naming the reported step's selection, the oracle and the Base.
  std::string caption() const;
  /// The caption, a blank line, then the table.
  std::string markdown() const;
  std::string csv() const;
  std::string latex() const;
  nlohmann::json json() const;
};

/// `v` in fixed notation with `digits` decimals: how every table prints a number.
std::string fixed_digits(double v, int digits);

/// Mean and sample standard deviation (0 for a single value) of a non-empty list.
void mean_std(const std::vector<double>& values, double& mean, double& stddev);

/// `runs[method][seed index]`; "none" (if present) gives the Base row, else each seed's first method's step 0.
/// base = "shared": Δ_TTT of every method against the Base values of the same seed; "step0": against the
/// method's own step 0 of that seed. Each run reports its `selected` step (for selection "oracle", the best
/// step against the chosen Base). `failures[method]` (the first error of a method that failed in any seed)
/// gives that method a failure row; its runs are not used.
ResultsTable build_results_table(const std::vector<std::string>& methods,
                                 const std::map<std::string, std::vector<Trajectory>>& runs,
                                 const std::map<std::string, std::string>& failures = {},
                                 const std::string& base = "shared");

}  // namespace s4t::host
