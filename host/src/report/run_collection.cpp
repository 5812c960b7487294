#include "report/run_collection.hpp"

#include <algorithm>

#include "run/run_directory.hpp"
#include "s4t/error.hpp"

namespace fs = std::filesystem;

namespace s4t::host {

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
    for (auto& s : sweeps) c.sweeps.push_back(read_json(s));
    // Sweep points are reported by their sweep.json, not mixed into the method table.
    for (auto& p : found) {
      if (p.string().find("/sweep-") != std::string::npos) continue;
      auto t = Trajectory::from_json(read_json(p));
      if (!c.runs.count(t.method)) c.methods.push_back(t.method);
      c.runs[t.method].push_back(std::move(t));
    }
    for (auto& p : failed) {
      if (p.string().find("/sweep-") != std::string::npos) continue;
      auto j = read_json(p);
      const std::string method = j.value("method", p.parent_path().filename().string());
      c.failures.emplace(method, j.value("error", std::string("(no message recorded)")));
    }
  }
  if (c.runs.empty() && c.failures.empty() && c.sweeps.empty())
    throw Error("report: no adaptation results (adapt/<method>/metrics.json) under the given folders");
  auto none = std::find(c.methods.begin(), c.methods.end(), "none");
  if (none != c.methods.end()) std::rotate(c.methods.begin(), none, none + 1);
  return c;
}

}  // namespace s4t::host
