#include "study/comparison.hpp"

#include <algorithm>

#include "engine/adapter.hpp"
#include "engine/interrupt.hpp"
#include "engine/trainer.hpp"
#include "run/logging.hpp"
#include "run/run_directory.hpp"
#include "s4t/error.hpp"
#include "s4t/state_dict.hpp"
#include "study/adaptation_record.hpp"
#include "util/error_text.hpp"

namespace s4t::host {

ComparisonResult run_comparison(const Experiment& config, const ComponentRegistry& registry,
                                std::vector<std::string> methods, std::vector<std::int64_t> seeds,
                                const std::string& command_line) {
  if (methods.empty()) methods = config.section("compare").get_string_list("methods");
  if (seeds.empty()) seeds = config.section("compare").get_int_list("seeds");
  if (methods.empty() || seeds.empty()) throw ConfigError("compare needs at least one method and one seed");
  if (std::find(methods.begin(), methods.end(), "none") == methods.end()) methods.insert(methods.begin(), "none");
  for (auto& m : methods) config.method_options(m);
  step_selection(config);  // a bad [ttt] select stops the comparison before anything trains
  // Each method and seed has one run directory: a repeat would overwrite its own results.
  for (size_t i = 0; i < methods.size(); ++i)
    if (std::find(methods.begin(), methods.begin() + i, methods[i]) != methods.begin() + i)
      throw ConfigError("compare: method '" + methods[i] + "' is listed twice");
  for (size_t i = 0; i < seeds.size(); ++i)
    if (std::find(seeds.begin(), seeds.begin() + i, seeds[i]) != seeds.begin() + i)
      throw ConfigError("compare: seed " + std::to_string(seeds[i]) + " is listed twice");

  // What the run directories record is what is compared.
  Experiment x = config;
  x.set("compare.methods", methods, "compare --methods");
  x.set("compare.seeds", seeds, "compare --seeds");
  x.listed_methods.insert(methods.begin(), methods.end());
  const std::string name = x.section("run").get_string("name");
  RunDirectory top(x, registry, command_line);

  ComparisonResult result;
  result.methods = methods;
  result.seeds = seeds;
  result.dir = top.path();
  for (auto seed : seeds) {
    Experiment xs = x;
    xs.set("run.seed", seed, "compare seed");
    xs.set("run.name", name + "/seed-" + std::to_string(seed), "compare seed");
    RunDirectory run(xs, registry, command_line);
    for (auto& m : methods) {
      logger()->info("=== seed {}: method '{}' ===", seed, m);
      try {
        auto tr = record_adaptation(run, m, [&] {
          auto checkpoint = ensure_source_checkpoint(xs, registry, run, m);
          return adapt(xs, registry, m, checkpoint);
        });
        result.runs[m].push_back(std::move(tr));
      } catch (const Interrupted&) {  // the user stops the whole comparison
        throw;
      } catch (const std::exception& e) {
        const std::string message = error_text(e);
        logger()->error("seed {}: method '{}' failed: {}", seed, m, message);
        result.failures.emplace(m, message);
      }
    }
  }
  result.table = build_results_table(methods, result.runs, result.failures, x.section("compare").get_string("base"));
  write_file_atomically(top.path() / "results.md", result.table.markdown());
  write_file_atomically(top.path() / "results.csv", result.table.csv());
  write_file_atomically(top.path() / "results.tex", result.table.latex());
  write_json(top.path() / "results.json", result.table.json());
  result.stream = build_stream_table(methods, result.runs);
  if (!result.stream.empty()) {
    write_file_atomically(top.path() / "stream.md", result.stream.markdown());
    write_json(top.path() / "stream.json", result.stream.json());
  }
  return result;
}

}  // namespace s4t::host
