#pragma once
// The process group of a distributed run (docs/distributed.md): c10d's TCPStore for the rendezvous at
// MASTER_ADDR:MASTER_PORT (rank 0 serves it) and a Gloo (CPU) or NCCL (CUDA) backend for the collectives.
// It is the s4t::Collectives that plugins see. Failures name the rank at fault: every rank publishes a
// heartbeat and its iteration to the store, so when a collective fails or times out the survivors tell
// a rank that died (its heartbeat stopped), one that stopped with an error (it published the message) and
// one that is stuck (it is behind) apart, and stop within [run] dist_timeout_s instead of hanging.
#include <ATen/core/Tensor.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "distributed/launch_environment.hpp"
#include "s4t/collectives.hpp"
#include "s4t/error.hpp"

namespace s4t::host {

struct Experiment;

/// A collective that failed or timed out; the message names the rank at fault. A rank that stops because
/// of one does not announce it as its own failure (the others diagnose the same fault themselves).
class CollectiveError : public Error {
 public:
  using Error::Error;
};

/// A collective launched without waiting (gradient buckets during the backward pass).
class PendingCollective {
 public:
  virtual ~PendingCollective() = default;
  /// Blocks until it is done; throws CollectiveError naming the failed rank if it failed.
  virtual void wait() = 0;
};

struct GroupSettings {
  std::string backend = "gloo";               ///< gloo | nccl
  std::chrono::seconds timeout{120};          ///< joining, and every collective
};

class DistributedGroup final : public s4t::Collectives {
 public:
  /// Connects to (rank 0: opens) the store, waits until every rank has joined -- ConfigError/Error naming the
  /// ranks that did not within the timeout -- and creates the backend.
  DistributedGroup(const LaunchEnvironment& env, const GroupSettings& settings);
  ~DistributedGroup() override;
  DistributedGroup(const DistributedGroup&) = delete;
  DistributedGroup& operator=(const DistributedGroup&) = delete;

  int rank() const override;
  int world_size() const override;
  const LaunchEnvironment& environment() const;
  /// Sum over ranks, in place, blocking (several tensors: one collective each, in order).
  void all_reduce_sum(std::vector<at::Tensor>& tensors) override;
  /// Sum of one contiguous tensor over ranks, in place; `what` names it in errors.
  std::unique_ptr<PendingCollective> all_reduce_sum_async(const at::Tensor& tensor, const std::string& what);
  /// Rank `root`'s values into every rank's tensors, in place, blocking.
  void broadcast(std::vector<at::Tensor>& tensors, int root = 0);
  /// Every rank waits for the others (through the backend, with the timeout).
  void barrier(const std::string& what);

  /// The iteration this rank is at (published with the heartbeat; tells a stuck rank in errors).
  void set_progress(std::int64_t iteration);
  /// Tells the other ranks why this one stops (they name it in their errors). Never throws.
  void announce_failure(const std::string& message) noexcept;
  /// The message of an error raised by a failed collective: which rank is at fault and why, found
  /// through the store (takes up to ~2 s to tell a dead rank by its heartbeat).
  std::string diagnose_failure(const std::string& what, const std::string& backend_error);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Whether this build was compiled with distributed support (LibTorch's c10d and the Gloo headers).
bool distributed_support_compiled();
/// The message every distributed entry point gives in a build without it.
std::string no_distributed_support_message();

/// This process's group: joined on the first call when the launch environment names more than one
/// process (with [run] backend and dist_timeout_s of `x`), installed as s4t::collectives(); nullptr in a
/// single-process run. Later calls return the same group. Error in a build without distributed support.
std::shared_ptr<DistributedGroup> join_distributed_run(const Experiment& x);
/// The group joined earlier in this process, or nullptr.
std::shared_ptr<DistributedGroup> distributed_group();

}  // namespace s4t::host
