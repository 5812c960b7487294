#pragma once
// One comparison: for every seed, train what each method needs (methods without a source-time module
// share the Base checkpoint), adapt each on the target set with the same protocol, tabulate.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "cli/results_table.hpp"
#include "config/experiment.hpp"
#include "engine/adapter.hpp"

namespace s4t::host {

struct ComparisonResult {
  ResultsTable table;
  std::map<std::string, std::vector<Trajectory>> runs;  ///< method -> one trajectory per seed
  std::filesystem::path dir;                            ///< holds results.{md,csv,json,tex}
};

/// `methods` gets "none" prepended when absent (the Base row). Seeds run in <run>/seed-<k>/.
ComparisonResult run_comparison(const Experiment& x, const ComponentRegistry& registry, std::vector<std::string> methods,
                                const std::vector<std::int64_t>& seeds, const std::string& command_line);

}  // namespace s4t::host
