#pragma once
// Parallel input pipeline: worker threads decode samples and collate batches ahead of the model
// (bounded prefetch), in a deterministic order given by (seed, epoch). Batches are delivered in order.
// Optionally one shard of each epoch (distributed data parallelism).
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "s4t/batch.hpp"
#include "s4t/dataset.hpp"

namespace s4t::host {

struct LoaderOptions {
  std::int64_t batch = 8;
  bool shuffle = false;
  bool drop_last = false;      ///< training drops a short last batch
  std::uint64_t seed = 0;
  int workers = 2;             ///< 0 = load on the calling thread
  int prefetch = 4;            ///< batches in flight ahead of the consumer
  std::int64_t max_batches = 0;  ///< 0 = all
  bool pin_memory = false;     ///< page-locked batches (CUDA only)
  /// Distributed runs: this process reads shard `shard_index` of `shard_count` -- every shard_count-th
  /// sample of the epoch's (seed, epoch)-shuffled order, starting at shard_index -- so the shards are
  /// disjoint and together cover the epoch. With drop_last every shard has floor(size / shard_count)
  /// samples (the same batch count on every rank); otherwise the first size % shard_count shards have one more.
  std::int64_t shard_index = 0;
  std::int64_t shard_count = 1;
  at::Device device = at::Device(at::kCPU);
};

class DataLoader final : public BatchStream {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options);
  ~DataLoader() override;
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  bool next(Batch& out) override;
  void restart() override;  ///< next epoch
  std::int64_t batches_per_epoch() const override;

  /// Positions the loader at `batch` of `epoch` (used when training resumes).
  void seek(std::int64_t epoch, std::int64_t batch);
  std::int64_t epoch() const { return epoch_; }
  /// Seconds the consumer spent waiting for data since construction.
  double wait_seconds() const { return wait_seconds_; }

 private:
  void start_epoch(std::int64_t first_batch);
  std::int64_t shard_size(std::int64_t total) const;  // samples of this shard in an epoch of `total`
  void stop_workers();
  void worker_loop();
  Batch load_batch(std::int64_t b) const;

  std::shared_ptr<const Dataset> dataset_;
  std::vector<TaskSpec> tasks_;  // what every sample must hold (the dataset's declaration)
  std::string label_;            // names the dataset in errors
  LoaderOptions options_;
  std::vector<std::int64_t> order_;
  std::int64_t epoch_ = 0, next_to_deliver_ = 0, next_to_load_ = 0, batches_ = 0;
  double wait_seconds_ = 0.0;

  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::map<std::int64_t, Batch> done_;
  std::map<std::int64_t, std::exception_ptr> errors_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace s4t::host
