#pragma once
// Keeping data-parallel replicas the same: rank 0's weights and buffers to every rank, a check that the
// replicas did not drift apart, and small agreements (every rank must resume from the same iteration).
#include <cstdint>
#include <string>

#include "distributed/process_group.hpp"

namespace torch::nn { class Module; }

namespace s4t::host {

/// Rank 0's parameters (when `parameters`) and buffers (when `buffers`) into every rank's module.
void broadcast_module_state(DistributedGroup& group, torch::nn::Module& module, bool parameters, bool buffers);

/// Compares every parameter and buffer with rank 0's (a float64 sum per tensor, exact). Throws s4t::Error on
/// a rank whose replica differs, naming the first tensor that does.
void check_replicas(DistributedGroup& group, torch::nn::Module& module, const std::string& when);

/// Every rank's `value`, gathered; throws s4t::Error on every rank when they differ, naming `what` and
/// the values (e.g. ranks that do not see the same run directory resume from different iterations).
void agree(DistributedGroup& group, std::int64_t value, const std::string& what, const std::string& hint);

}  // namespace s4t::host
