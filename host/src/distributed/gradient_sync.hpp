#pragma once
// Data-parallel gradients: the mean over ranks of every parameter's gradient, all-reduced in buckets
// that overlap the backward pass (the scheme of PyTorch's DistributedDataParallel, on c10d collectives).
// Parameters are grouped in reverse registration order -- roughly the order the backward pass produces
// their gradients -- into buckets of about 1 MiB (the first) and 25 MiB (the rest). A hook on each
// parameter copies its gradient into its bucket's flat buffer; a bucket whose gradients are all in is
// all-reduced at once (asynchronously), in bucket order, so every rank launches the same collectives in
// the same order. finish() launches what is left (a parameter that got no gradient on this rank counts
// as zero), waits, and writes the mean into .grad. A parameter that got a gradient on no rank keeps an
// undefined .grad (optimizers skip it, as in one process). One small extra all-reduce per step carries
// which parameters were used and the ranks' stop requests (a signal stops every rank at the same step).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "distributed/process_group.hpp"

namespace s4t::host {

class GradientSync {
 public:
  static constexpr std::int64_t kFirstBucketBytes = 1 << 20;
  static constexpr std::int64_t kBucketBytes = 25 << 20;

  /// `parameters`: the trained parameters (requires_grad), the same list in the same order on every rank.
  GradientSync(std::shared_ptr<DistributedGroup> group, std::vector<at::Tensor> parameters,
               std::int64_t first_bucket_bytes = kFirstBucketBytes, std::int64_t bucket_bytes = kBucketBytes);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  /// Arms the hooks for the next backward pass (outside prepare()..finish() they do nothing).
  void prepare();
  /// After backward: all-reduces the rest, waits, writes the mean gradients. Returns whether any rank asked
  /// to stop (`stop_requested` on this one).
  bool finish(bool stop_requested = false);

  std::size_t bucket_count() const { return buckets_.size(); }
  /// Buckets launched from the hooks (during backward) in the last step: the overlap actually achieved.
  std::size_t buckets_overlapped() const { return overlapped_; }

 private:
  struct Bucket {
    std::vector<std::size_t> members;  // parameter indices
    std::vector<std::int64_t> offsets;
    at::Tensor flat;
    std::size_t ready = 0;
    std::unique_ptr<PendingCollective> pending;
  };
  void on_gradient(std::size_t index, const at::Tensor& grad);
  void launch_ready_buckets();
  void launch(std::size_t bucket);

  std::shared_ptr<DistributedGroup> group_;
  std::vector<at::Tensor> parameters_;
  std::vector<unsigned> hooks_;
  std::vector<Bucket> buckets_;
  std::vector<std::size_t> bucket_of_, slot_of_;
  std::vector<char> used_;
  std::size_t next_launch_ = 0, overlapped_ = 0;
  bool armed_ = false;
};

}  // namespace s4t::host
