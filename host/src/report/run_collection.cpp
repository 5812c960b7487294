#include "report/run_collection.hpp"

#include <algorithm>
#include <stdexcept>

#include "run/run_directory.hpp"
#include "s4t/error.hpp"
#include "util/error_text.hpp"

namespace fs = std::filesystem;

namespace s4t::host {

namespace {
// The layout plot_sweeps reads: {"key": string, "points": [{"value", "methods": {method: {...}}}]}.
void check_sweep(const nlohmann::json& j) {
  if (!j.is_object()) throw std::runtime_error("expected a JSON object");
  if (j.contains("key") && !j["key"].is_string()) throw std::runtime_error("\"key\" must be a string");
  if (!j.contains("points")) return;
  if (!j["points"].is_array()) throw std::runtime_error("\"points\" must be a list");
  for (auto& point : j["points"]) {
    if (!point.is_object() || !point.contains("value")) throw std::runtime_error("each of \"points\" must be an object with a \"value\"");
    if (!point.contains("methods")) continue;
    if (!point["methods"].is_object()) throw std::runtime_error("\"methods\" of a point must be an object");
    for (auto& [method, result] : point["methods"].items()) {
      if (!result.is_object()) throw std::runtime_error("the result of method '" + method + "' must be an object");
      for (auto key : {"delta_ttt", "first_step_loss"})
        if (result.contains(key) && !result[key].is_number() && !result[key].is_null())
          throw std::runtime_error("\"" + std::string(key) + "\" of method '" + method + "' must be a number");
    }
  }
}

// Runs `read` on the parsed file; any layout problem becomes one error naming the file.
template <typename F>
void read_results_file(const fs::path& path, F&& read) {
  auto j = read_json(path);
  try {
    read(j);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error("report: '" + path.string() + "' is not a results file s4t can read: " + error_text(e));
  }
}
}  // namespace

RunCollection collect_runs(const std::vector<fs::path>& dirs) {
  RunCollection c;
  for (auto& dir : dirs) {
    if (!fs::is_directory(dir)) throw Error("report: '" + dir.string() + "' is not a run directory");
    std::vector<fs::path> found, failed, sweeps;
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
      if (it.depth() > 5) it.disable_recursion_pending();
      const auto& p = it->path();
      const bool in_adapt = p.parent_path().parent_path().filename() == "adapt";
      if (in_adapt && p.filename() == "metrics.json") found.push_back(p);
      if (in_adapt && p.filename() == "failed.json") failed.push_back(p);
      if (p.filename() == "sweep.json") sweeps.push_back(p);
    }
    std::sort(found.begin(), found.end());
    std::sort(failed.begin(), failed.end());
    for (auto& s : sweeps)
      read_results_file(s, [&](const nlohmann::json& j) {
        check_sweep(j);
        c.sweeps.push_back(j);
      });
    // Sweep points are reported by their sweep.json, not mixed into the method table.
    for (auto& p : found) {
      if (p.string().find("/sweep-") != std::string::npos) continue;
      read_results_file(p, [&](const nlohmann::json& j) {
        auto t = Trajectory::from_json(j);
        if (c.runs.count(t.method)) {
          auto& first = c.runs[t.method].front();
          bool same = first.tasks.size() == t.tasks.size() && first.steps == t.steps;
          for (size_t i = 0; same && i < t.tasks.size(); ++i) same = first.tasks[i].name == t.tasks[i].name;
          if (!same)
            throw std::runtime_error("its tasks or steps differ from the other runs of method '" + t.method +
                                     "' (seeds of one method are averaged step by step)");
        } else {
          c.methods.push_back(t.method);
        }
        c.runs[t.method].push_back(std::move(t));
      });
    }
    for (auto& p : failed) {
      if (p.string().find("/sweep-") != std::string::npos) continue;
      read_results_file(p, [&](const nlohmann::json& j) {
        if (!j.is_object()) throw std::runtime_error("expected a JSON object");
        const std::string method = j.value("method", p.parent_path().filename().string());
        c.failures.emplace(method, j.value("error", std::string("(no message recorded)")));
      });
    }
  }
  if (c.runs.empty() && c.failures.empty() && c.sweeps.empty())
    throw Error("report: no adaptation results (adapt/<method>/metrics.json) under the given folders");
  auto none = std::find(c.methods.begin(), c.methods.end(), "none");
  if (none != c.methods.end()) std::rotate(c.methods.begin(), none, none + 1);
  return c;
}

}  // namespace s4t::host
