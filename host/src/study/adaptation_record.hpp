#pragma once
// What one adaptation leaves in its run directory, success or failure: adapt/<method>/metrics.json and
// trajectory.csv, or adapt/<method>/failed.json with the error. Never both: the results of an earlier
// run of the method are removed when it starts.
#include <functional>
#include <string>

#include "run/run_directory.hpp"
#include "run/trajectory.hpp"

namespace s4t::host {

/// Clears adapt/<method>/ of earlier results, runs `adapt_method` and writes what it returns; when it
/// throws, writes failed.json (the method and the error's full text) and rethrows (an Interrupted is
/// rethrown without failed.json). Logs nothing: the caller reports the error once.
Trajectory record_adaptation(const RunDirectory& run, const std::string& method,
                             const std::function<Trajectory()>& adapt_method);

}  // namespace s4t::host
