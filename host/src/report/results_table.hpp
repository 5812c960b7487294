#pragma once
// The Table-4-style comparison: per-task metric of each method at its best step by Δ_TTT (relative to
// the Base row, the un-adapted source model), mean ± std over seeds. A method that failed has a row
// saying so instead of numbers.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "run/trajectory.hpp"

namespace s4t::host {

struct ResultRow {
  std::string name;                     ///< "Base" or the method
  std::string failure;                  ///< non-empty: the method failed with this message (no values)
  std::vector<double> mean, stddev;     ///< per task
  double delta_mean = 0.0, delta_std = 0.0;
  double best_step_mean = 0.0;
  std::size_t seeds = 0;
};

struct ResultsTable {
  std::vector<TaskSpec> tasks;
  std::vector<ResultRow> rows;

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
/// Δ_TTT of every method is computed against the Base values of the same seed. `failures[method]` (the
/// first error of a method that failed in any seed) gives that method a failure row; its runs are not used.
ResultsTable build_results_table(const std::vector<std::string>& methods,
                                 const std::map<std::string, std::vector<Trajectory>>& runs,
                                 const std::map<std::string, std::string>& failures = {});

}  // namespace s4t::host
