#include "cli/comparison.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "engine/trainer.hpp"
#include "run/run_directory.hpp"
#include "s4t/log.hpp"
#include "s4t/state_dict.hpp"

namespace fs = std::filesystem;

namespace s4t::host {

ComparisonResult run_comparison(const Experiment& x, const ComponentRegistry& registry, std::vector<std::string> methods,
                                const std::vector<std::int64_t>& seeds, const std::string& command_line) {
  if (std::find(methods.begin(), methods.end(), "none") == methods.end()) methods.insert(methods.begin(), "none");
  for (auto& m : methods) x.method_options(m);
  const std::string name = x.section("run").get_string("name");
  RunDirectory top(x, registry, command_line);
  ComparisonResult result;
  result.dir = top.path();
  for (auto seed : seeds) {
    Experiment xs = x;
    xs.host["run"].set("seed", seed);
    xs.host["run"].set("name", name + "/seed-" + std::to_string(seed));
    ConfigEntry e;
    e.value = seed;
    e.where = {"--seeds", 0, 0};
    xs.tree.set("run.seed", e);
    RunDirectory run(xs, registry, command_line);
    for (auto& m : methods) {
      logger()->info("=== seed {}: method '{}' ===", seed, m);
      auto ckpt = ensure_source_checkpoint(xs, registry, run, m);
      auto tr = adapt(xs, registry, m, ckpt);
      fs::path dir = run.adapt_dir(m);
      write_json(dir / "metrics.json", tr.to_json());
      write_file_atomically(dir / "trajectory.csv", tr.to_csv());
      result.runs[m].push_back(tr);
    }
  }
  result.table = build_results_table(methods, result.runs);
  write_file_atomically(top.path() / "results.md", result.table.markdown());
  write_file_atomically(top.path() / "results.csv", result.table.csv());
  write_file_atomically(top.path() / "results.tex", result.table.latex());
  write_json(top.path() / "results.json", result.table.json());
  return result;
}

}  // namespace s4t::host
