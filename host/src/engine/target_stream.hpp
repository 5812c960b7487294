#pragma once
// The target images an adaptation run goes through, in order (docs/streams.md): one set ([ttt] stream =
// "single"), the [ttt] domains one after another (continual), each corruption domain at severities
// 1,2,3,4,5,4,3,2,1 in turn (gradual, as the test-time-adaptation library's gradual setting), or every
// domain's images shuffled together (mixed); and when the weights return to the source's ([ttt] reset).
#include <memory>
#include <string>
#include <vector>

#include "config/experiment.hpp"
#include "plugins/component_registry.hpp"
#include "s4t/dataset.hpp"

namespace s4t::host {

enum class ResetRule { Never, PerDomain, PerBatch };

/// [ttt] reset, with "protocol" read from [ttt] protocol (episodic = per_batch, online = never).
ResetRule reset_rule(const Experiment& x);
std::string to_string(ResetRule r);

/// A stretch of the stream that comes from one dataset.
struct StreamSegment {
  std::string label;       ///< the domain's name; gradual: "<domain>@<severity>"
  std::size_t domain = 0;  ///< index into TargetStream::domains
  std::shared_ptr<Dataset> data;
};

struct TargetStream {
  std::string kind = "single";       ///< [ttt] stream
  ResetRule reset = ResetRule::PerBatch;
  std::vector<std::string> domains;  ///< names as listed ("target" for a single stream)
  /// single: the target set; continual / gradual: in stream order; mixed: one segment, a MixedDomains.
  std::vector<StreamSegment> segments;
  bool mixed() const { return kind == "mixed"; }
  /// Results are reported per segment (continual, gradual) or per domain (mixed).
  std::size_t result_groups() const { return mixed() ? domains.size() : segments.size(); }
  std::string group_label(std::size_t g) const { return mixed() ? domains[g] : segments[g].label; }
};

/// The gradual setting's severities for each domain.
const std::vector<std::int64_t>& gradual_severities();

/// A single stream over `set` (labelled `label`), reset as [ttt] reset / protocol say.
TargetStream one_set_stream(const Experiment& x, std::shared_ptr<Dataset> set, const std::string& label = "target");

/// The stream of experiment `x`; `target` is [data.target]'s dataset (the single stream). Every domain's
/// dataset is built and checked to hold the run's tasks (ConfigError naming the domain otherwise).
TargetStream make_target_stream(const Experiment& x, const ComponentRegistry& registry, std::shared_ptr<Dataset> target,
                                const Dataset& source);

}  // namespace s4t::host
