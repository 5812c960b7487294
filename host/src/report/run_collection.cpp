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
    std::vector<fs::path> found, sweeps;
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
      if (it.depth() > 5) it.disable_recursion_pending();
      const auto& p = it->path();
      if (p.filename() == "metrics.json" && p.parent_path().parent_path().filename() == "adapt") found.push_back(p);
      if (p.filename() == "sweep.json") sweeps.push_back(p);
    }
    std::sort(found.begin(), found.end());
    for (auto& s : sweeps) c.sweeps.push_back(read_json(s));
    // Sweep points are reported by their sweep.json, not mixed into the method table.
    for (auto& p : found) {
      if (p.string().find("/sweep-") != std::string::npos) continue;
      auto t = Trajectory::from_json(read_json(p));
      if (!c.runs.count(t.method)) c.methods.push_back(t.method);
      c.runs[t.method].push_back(std::move(t));
    }
  }
  if (c.runs.empty() && c.sweeps.empty())
    throw Error("report: no adaptation results (adapt/<method>/metrics.json) under the given folders");
  auto none = std::find(c.methods.begin(), c.methods.end(), "none");
  if (none != c.methods.end()) std::rotate(c.methods.begin(), none, none + 1);
  return c;
}

}  // namespace s4t::host
