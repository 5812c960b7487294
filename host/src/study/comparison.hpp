#pragma once
// One comparison: for every seed, train what each method needs (methods without a source-time module
// share the Base checkpoint), adapt each on the target set with the same protocol, tabulate at the step
// [ttt] select chooses, against the Base [compare] base names (report/results_table.hpp). A method
// that fails is recorded (adapt/<method>/failed.json, a failure row in the table) and the others go on.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "config/experiment.hpp"
#include "plugins/component_registry.hpp"
#include "report/results_table.hpp"
#include "report/stream_table.hpp"
#include "run/trajectory.hpp"

namespace s4t::host {

struct ComparisonResult {
  ResultsTable table;
  StreamTable stream;  ///< per domain of the target stream (empty for stream = "single")
  std::vector<std::string> methods;                     ///< as compared ("none" first)
  std::vector<std::int64_t> seeds;
  std::map<std::string, std::vector<Trajectory>> runs;  ///< method -> one trajectory per seed it succeeded in
  std::map<std::string, std::string> failures;          ///< method -> the error of its first failed run
  std::filesystem::path dir;                            ///< holds results.{md,csv,json,tex}
};

/// `methods` empty = [compare] methods, `seeds` empty = [compare] seeds; "none" is prepended when absent
/// (the Base row). Seeds run in <run>/seed-<k>/. Unknown methods are a ConfigError before anything runs;
/// a method that fails later is logged, recorded and skipped.
ComparisonResult run_comparison(const Experiment& x, const ComponentRegistry& registry, std::vector<std::string> methods,
                                std::vector<std::int64_t> seeds, const std::string& command_line);

}  // namespace s4t::host
