#include "study/sweep.hpp"

#include <algorithm>
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

namespace {
// Copies <from>/seed-<k>/source/ into the point's seed folders that have none yet (through a temporary
// folder renamed into place, so a stop never leaves half a copy that looks finished).
void copy_source_models(const fs::path& from, const Experiment& point, std::vector<std::int64_t> seeds) {
  if (seeds.empty()) seeds = point.section("compare").get_int_list("seeds");
  const fs::path dest = fs::path(point.section("run").get_string("output_dir")) / point.section("run").get_string("name");
  for (auto seed : seeds) {
    const fs::path src = from / ("seed-" + std::to_string(seed)) / "source";
    const fs::path dst = dest / ("seed-" + std::to_string(seed)) / "source";
    if (!fs::is_directory(src) || fs::exists(dst)) continue;
    const fs::path tmp = dst.string() + ".tmp-copy";
    fs::remove_all(tmp);
    fs::create_directories(dst.parent_path());
    fs::copy(src, tmp, fs::copy_options::recursive);
    fs::rename(tmp, dst);
    logger()->info("source models of seed {} copied from {}", seed, src.string());
  }
}

// The rows "| mean |" (Δ_TTT over the points) and "| rank |" (1 = highest mean) of a table with one
// column per method of `methods` but "none"; "–" for a method that failed at some point.
std::string mean_and_rank_rows(const std::vector<std::string>& methods, const std::map<std::string, std::vector<double>>& delta) {
  std::vector<std::pair<std::string, double>> means;
  for (auto& m : methods) {
    auto it = delta.find(m);
    if (m == "none" || it == delta.end()) continue;
    double mean = std::nan(""), sd;
    const auto& values = it->second;
    if (!values.empty() && std::all_of(values.begin(), values.end(), [](double d) { return std::isfinite(d); }))
      mean_std(values, mean, sd);
    means.emplace_back(m, mean);
  }
  std::string mean_row = "| mean |", rank_row = "| rank |";
  for (auto& [m, mean] : means) {
    mean_row += std::isfinite(mean) ? " " + fixed_digits(mean, 2) + " |" : " – |";
    int rank = 1;
    for (auto& other : means)
      if (std::isfinite(other.second) && other.second > mean) ++rank;
    rank_row += std::isfinite(mean) ? " " + std::to_string(rank) + " |" : " – |";
  }
  return mean_row + "\n" + rank_row + "\n";
}
}  // namespace

SweepResult run_sweep(const ConfigTree& config, const ComponentRegistry& registry, const std::string& key,
                      const std::vector<std::string>& values, const std::vector<std::string>& methods,
                      const std::vector<std::int64_t>& seeds, const std::string& config_name,
                      const std::string& command_line, const SweepOptions& options) {
  const Experiment base = validate_experiment(config, registry);
  const std::string name = base.section("run").get_string("name");
  SweepResult result;
  result.summary["key"] = key;
  result.summary["config"] = config_name;
  if (!options.label.empty()) result.summary["label"] = options.label;
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
    if (options.share_source) {
      const fs::path from = !options.source_from.empty() ? options.source_from : result.first_point_dir;
      if (!from.empty()) copy_source_models(from, points[v], seeds);
    }
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
    if (v == 0) {
      result.first_point_dir = comparison.dir;
      result.methods = comparison.methods;
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
        result.delta[row.name].push_back(std::nan(""));
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
      result.delta[row.name].push_back(row.delta_mean);
    }
    rows += "\n";
    if (!comparison.failures.empty()) result.any_failed = true;
    result.summary["points"].push_back(p);
  }
  result.table += rows;
  if (options.summary_rows) result.table += mean_and_rank_rows(result.methods, result.delta);
  result.dir = fs::path(base.section("run").get_string("output_dir")) / name;
  write_json(result.dir / "sweep.json", result.summary);
  write_file_atomically(result.dir / "sweep.md", result.table);
  return result;
}

}  // namespace s4t::host
