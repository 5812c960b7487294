#pragma once
// The target stream's table (docs/streams.md): Δ_TTT (%) of every method on each domain of the stream
// (each segment of a continual or gradual stream, in stream order; each domain of a mixed one) at the
// step its run reports, against the Base's metrics on the same domain (the `none` runs of the same seed;
// without them, the method's own step 0 there), and on the whole stream; mean ± std over seeds. And
// the continual-stream curve: each batch's Δ_TTT after adaptation against the Base on the same batch.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "run/trajectory.hpp"

namespace s4t::host {

struct StreamTable {
  std::string kind, reset;             ///< of the runs' stream
  std::string base = "none";           ///< "none" (the Base runs) or "step0" (each method's own step 0)
  std::vector<std::string> methods;    ///< the adapting methods, in the order given ("none" left out)
  std::vector<std::string> groups;     ///< domain labels in stream order
  std::vector<std::vector<double>> mean, stddev;  ///< [group][method]; the last row is the whole stream
  /// [method][batch]: each batch's Δ_TTT after adaptation vs the Base on the same batch, mean over seeds
  std::vector<std::vector<double>> curve;
  std::vector<std::size_t> curve_group;  ///< [batch]: the batch's group (where the domain changes)

  bool empty() const { return groups.empty(); }
  std::string markdown() const;
  nlohmann::json json() const;
};

/// Empty when no run holds a stream. Runs of one method must share the stream's layout (groups and
/// batches); a method whose runs differ from the first method's is left out with a note in the caption.
StreamTable build_stream_table(const std::vector<std::string>& methods,
                               const std::map<std::string, std::vector<Trajectory>>& runs);

}  // namespace s4t::host
