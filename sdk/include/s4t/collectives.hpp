#pragma once
// Process-group collectives as the SDK sees them: what data-parallel code (synchronised BatchNorm,
// metric and loss reductions) needs from the distributed runtime, without depending on it. The host
// installs an implementation (c10d over Gloo, docs/distributed.md) with set_collectives() when it runs
// with more than one process; the SDK is a shared library, so the host and every plugin see the same one.
#include <ATen/core/Tensor.h>

#include <memory>
#include <vector>

#include "s4t/export.hpp"

namespace s4t {

class S4T_API Collectives {
 public:
  virtual ~Collectives();
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  /// Element-wise sum over all ranks, in place, blocking; every rank calls it with the same shapes in the same order.
  virtual void all_reduce_sum(std::vector<at::Tensor>& tensors) = 0;
};

/// The installed collectives; nullptr in a single-process run.
S4T_API std::shared_ptr<Collectives> collectives();
/// Installs (or, with nullptr, removes) the process-wide collectives.
S4T_API void set_collectives(std::shared_ptr<Collectives> c);

/// Whether BatchNorm layers built from s4t::nn::BatchNorm2d (batch_norm.hpp) synchronise their batch
/// statistics over all ranks when training. Off by default; it only has an effect when collectives()
/// is set with world_size() > 1.
S4T_API bool sync_batch_norm_enabled();
S4T_API void set_sync_batch_norm(bool on);

}  // namespace s4t
