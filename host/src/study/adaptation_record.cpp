#include "study/adaptation_record.hpp"

#include "distributed/launch_environment.hpp"
#include "engine/interrupt.hpp"
#include "s4t/state_dict.hpp"
#include "util/error_text.hpp"

namespace fs = std::filesystem;

namespace s4t::host {

Trajectory record_adaptation(const RunDirectory& run, const std::string& method,
                             const std::function<Trajectory()>& adapt_method) {
  const fs::path dir = run.adapt_dir(method);
  // Distributed runs: every rank adapts (its shard), rank 0 alone writes the (all-reduced) results.
  const bool writes = is_primary_process();
  if (writes)
    for (auto file : {"metrics.json", "trajectory.csv", "failed.json"}) fs::remove(dir / file);
  try {
    Trajectory tr = adapt_method();
    if (writes) {
      write_json(dir / "metrics.json", tr.to_json());
      write_file_atomically(dir / "trajectory.csv", tr.to_csv());
    }
    return tr;
  } catch (const Interrupted&) {  // stopped by the user: not a result of the method
    throw;
  } catch (const std::exception& e) {
    try {
      if (writes) write_json(dir / "failed.json", {{"method", method}, {"error", error_text(e)}});
    } catch (const std::exception&) {  // the method's own error is the one to report
    }
    throw;
  }
}

}  // namespace s4t::host
