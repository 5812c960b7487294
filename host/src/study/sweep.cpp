#include "study/sweep.hpp"

#include <cctype>
#include <cmath>
#include <set>

#include "config/experiment.hpp"
#include "engine/adapter.hpp"
#include "run/logging.hpp"
#include "run/run_directory.hpp"
#include "s4t/state_dict.hpp"
#include "report/results_table.hpp"
#include "study/comparison.hpp"

namespace fs = std::filesystem;

namespace s4t::host {

SweepResult run_sweep(const ConfigTree& config, const ComponentRegistry& registry, const std::string& key,
                      const std::vector<std::string>& values, const std::vector<std::string>& methods,
                      const std::vector<std::int64_t>& seeds, const std::string& config_name,
                      const std::string& command_line) {
  const Experiment base = validate_experiment(config, registry);
  const std::string name = base.section("run").get_string("name");
  SweepResult result;
  result.summary["key"] = key;
  result.summary["config"] = config_name;
  // Every point is checked before the first one trains: a bad value must not cost a finished point.
  if (values.empty()) throw ConfigError("--values lists no value");
  std::vector<Experiment> points;
  std::set<std::string> folders;
  for (auto& value : values) {
    ConfigTree point = config;
    point.set_override(key + "=" + value);
    std::string safe = value;
    for (auto& c : safe)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') c = '_';
    if (!folders.insert(safe).second)
      throw ConfigError("--values: '" + value + "' repeats a value (or names the same folder sweep-" + key + "-" + safe + ")");
    point.set_override("run.name=\"" + name + "/sweep-" + key + "-" + safe + "\"");
    try {
      points.push_back(validate_experiment(point, registry));
      step_selection(points.back());  // e.g. --key ttt.steps moving past a fixed select = step:N
    } catch (const ConfigError& e) {
      throw ConfigError("--values: " + key + " = " + value + ": " + e.what());
    }
  }
  bool header_done = false;
  std::string rows;
  for (size_t v = 0; v < values.size(); ++v) {
    const std::string& value = values[v];
    logger()->info("##### sweep {} = {} #####", key, value);
    auto comparison = run_comparison(points[v], registry, methods, seeds, command_line);
    if (!header_done) {
      result.summary["selection"] = comparison.table.selection;
      result.summary["base"] = comparison.table.base;
      result.table = "Δ_TTT (%) at the step [ttt] select = \"" + comparison.table.selection + "\" chooses" +
                     " (oracle and last step in sweep.json); " +
                     (comparison.table.base == "step0" ? "each method against its own step 0" : "against the shared Base") +
                     ".\n\n| " + key + " |";
      std::string rule = "|---|";
      for (auto& m : comparison.methods)
        if (m != "none") {
          result.table += " Δ_TTT " + m + " |";
          rule += "---:|";
        }
      result.table += "\n" + rule + "\n";
      header_done = true;
    }
    nlohmann::json p;
    p["value"] = value;
    p["dir"] = comparison.dir.string();
    rows += "| " + value + " |";
    for (auto& row : comparison.table.rows) {
      if (row.name == "Base") continue;
      if (!row.failure.empty()) {
        p["methods"][row.name] = {{"failed", row.failure}};
        rows += " failed |";
        result.any_failed = true;
        continue;
      }
      nlohmann::json r{{"delta_ttt", row.delta_mean},        {"delta_ttt_std", row.delta_std},
                       {"step", row.step_mean},              {"per_task", row.mean},
                       {"oracle_delta_ttt", row.oracle_delta_mean}, {"oracle_step", row.oracle_step_mean},
                       {"last_delta_ttt", row.last_delta_mean}};
      std::vector<double> first_losses;
      for (auto& t : comparison.runs.at(row.name))
        if (!t.loss.empty() && std::isfinite(t.loss.front())) first_losses.push_back(t.loss.front());
      if (!first_losses.empty()) {
        double m, sd;
        mean_std(first_losses, m, sd);
        r["first_step_loss"] = m;
      }
      p["methods"][row.name] = r;
      rows += " " + fixed_digits(row.delta_mean, 2) + " |";
    }
    rows += "\n";
    if (!comparison.failures.empty()) result.any_failed = true;
    result.summary["points"].push_back(p);
  }
  result.table += rows;
  result.dir = fs::path(base.section("run").get_string("output_dir")) / name;
  write_json(result.dir / "sweep.json", result.summary);
  write_file_atomically(result.dir / "sweep.md", result.table);
  return result;
}

}  // namespace s4t::host
