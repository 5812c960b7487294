#pragma once
// Data-parallel test-time adaptation (docs/distributed.md, "Sharded adaptation"). With more than one
// rank (s4t::collectives() installed, world_size > 1) the target set is split over the ranks for the
// episodic and single_batch_then_eval protocols: each rank reads one shard (LoaderOptions shard_index /
// shard_count), and what a pass measured -- the per-step, per-task metric sums, image and batch counts,
// per-step loss sums -- is summed over the ranks at the end, so every rank ends with the whole set's
// trajectory (rank 0 writes it). Nothing here synchronises per batch: ranks may see different numbers of
// batches. In a single-process run every function is a no-op.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/data_loader.hpp"
#include "evaluation/metrics.hpp"

namespace s4t {
class Collectives;
}

namespace s4t::host {

struct Experiment;

/// The collectives of a distributed adaptation: s4t::collectives() when world_size > 1, else nullptr.
std::shared_ptr<Collectives> adaptation_group();

/// Called once at the start of an adaptation: joins the distributed run when the process was launched as
/// one of several ranks (`s4t launch`, torchrun, Slurm; a no-op when it already joined, e.g. to train),
/// and throws a ConfigError when the adaptation is distributed and [ttt] protocol cannot be split over
/// ranks: "online" carries the adapted weights from one batch to the next, so it has to see the whole
/// stream in one process.
void start_sharded_adaptation(const Experiment& x);

/// `options` restricted to this rank's shard of the set (unchanged in a single-process run).
LoaderOptions sharded(LoaderOptions options);

/// Sums over the ranks: every accumulator of `per_step` ([evaluated step][task], each rank's in the same
/// order, empty ones included) and each of `counts`. `device`: where the reduction buffers live (the run
/// device, so a CUDA backend gets CUDA tensors).
void all_reduce_pass(std::vector<std::vector<std::unique_ptr<MetricAccumulator>>>& per_step,
                     const std::vector<std::int64_t*>& counts, const at::Device& device);

/// Sums the per-step loss sums and counts over the ranks (step s at index s − 1; a rank's vectors may be
/// shorter than another's: padded to `steps`, then trimmed to the longest).
void all_reduce_losses(std::vector<double>& loss_sum, std::vector<std::int64_t>& loss_count, std::int64_t steps,
                       const at::Device& device);

/// Sums each of `counts` over the ranks.
void all_reduce_counts(const std::vector<std::int64_t*>& counts, const at::Device& device);

/// While alive, synchronised BatchNorm is off (restored afterwards): adaptation episodes on different
/// ranks are independent, and ranks may run different numbers of batches, so a BatchNorm all-reduce
/// would mix unrelated episodes and could wait forever.
class LocalBatchNorm {
 public:
  LocalBatchNorm();
  ~LocalBatchNorm();
  LocalBatchNorm(const LocalBatchNorm&) = delete;
  LocalBatchNorm& operator=(const LocalBatchNorm&) = delete;

 private:
  bool previous_;
};

}  // namespace s4t::host
