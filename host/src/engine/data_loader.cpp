#include "engine/data_loader.hpp"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <random>

#include <unistd.h>

#include "engine/contracts.hpp"
#include "s4t/error.hpp"

namespace s4t::host {

namespace {
// This machine's physical memory in bytes (0 where the system does not say).
std::uint64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page) : 0;
}
}  // namespace

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options)
    : dataset_(std::move(dataset)), options_(options) {
  if (dataset_->size() <= 0) throw DataError("data loader: the dataset is empty (" + dataset_->describe() + ")");
  tasks_ = dataset_->tasks();
  label_ = "dataset (" + dataset_->describe() + ")";
  const std::int64_t total = dataset_->size(), b = options_.batch, shards = options_.shard_count;
  if (shards < 1 || options_.shard_index < 0 || options_.shard_index >= shards)
    throw Error("data loader: shard " + std::to_string(options_.shard_index) + " of " + std::to_string(shards) +
                " does not exist; expected 0 <= shard_index < shard_count");
  // An epoch's order keeps one index per sample: a size this machine cannot hold (a synthetic dataset's
  // size is only a number in the config) is refused here, not left to the allocator or the OOM killer.
  const std::uint64_t memory = physical_memory_bytes();
  if (memory > 0 && static_cast<std::uint64_t>(total) > memory / 2 / sizeof(std::int64_t))
    throw DataError("data loader: the dataset (" + dataset_->describe() + ") has " + std::to_string(total) +
                    " samples; the order of an epoch keeps an 8-byte index per sample, " +
                    std::to_string(static_cast<std::uint64_t>(total) / (1ull << 30) * sizeof(std::int64_t)) +
                    " GiB, more than half of this machine's " + std::to_string(memory >> 30) +
                    " GiB of memory; lower the dataset's size");
  const std::int64_t n = shard_size(total);
  if (n == 0)
    throw DataError("data loader: the dataset (" + std::to_string(total) + " samples) is too small to give each of " +
                    std::to_string(shards) + " processes a sample");
  batches_ = options_.drop_last ? n / b : (n + b - 1) / b;
  if (batches_ == 0)
    throw DataError("data loader: batch size " + std::to_string(b) + " is larger than the dataset (" +
                    std::to_string(n) + " samples" + (shards > 1 ? " in this process's shard of " + std::to_string(total) : std::string()) +
                    ") and short batches are dropped");
  if (options_.max_batches > 0) batches_ = std::min(batches_, options_.max_batches);
  start_epoch(0);
}

DataLoader::~DataLoader() { stop_workers(); }

std::int64_t DataLoader::shard_size(std::int64_t total) const {
  const std::int64_t shards = options_.shard_count;
  if (options_.drop_last) return total / shards;
  return total / shards + (options_.shard_index < total % shards ? 1 : 0);
}

std::int64_t DataLoader::batches_per_epoch() const { return batches_; }

void DataLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  space_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  stopping_ = false;
}

void DataLoader::start_epoch(std::int64_t first_batch) {
  stop_workers();
  order_.resize(dataset_->size());
  std::iota(order_.begin(), order_.end(), 0);
  if (options_.shuffle) {
    std::mt19937_64 rng(options_.seed * 1000003ULL + static_cast<std::uint64_t>(epoch_));
    std::shuffle(order_.begin(), order_.end(), rng);
  }
  if (options_.shard_count > 1) {  // every shard_count-th position of the whole epoch's order
    std::vector<std::int64_t> shard;
    const std::int64_t keep = shard_size(static_cast<std::int64_t>(order_.size()));
    for (std::int64_t i = 0; i < keep; ++i) shard.push_back(order_[options_.shard_index + i * options_.shard_count]);
    order_ = std::move(shard);
  }
  done_.clear();
  errors_.clear();
  next_to_deliver_ = next_to_load_ = first_batch;
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this] { worker_loop(); });
}

void DataLoader::restart() {
  ++epoch_;
  start_epoch(0);
}

void DataLoader::seek(std::int64_t epoch, std::int64_t batch) {
  epoch_ = epoch;
  start_epoch(std::clamp<std::int64_t>(batch, 0, batches_));
}

Batch DataLoader::load_batch(std::int64_t b) const {
  const std::int64_t begin = b * options_.batch;
  const std::int64_t end = std::min<std::int64_t>(begin + options_.batch, static_cast<std::int64_t>(order_.size()));
  std::vector<Sample> samples;
  std::vector<std::int64_t> indices;
  for (std::int64_t i = begin; i < end; ++i) {
    indices.push_back(order_[i]);
    samples.push_back(dataset_->get(order_[i]));
    check_sample(label_, tasks_, samples.back(), order_[i]);
  }
  Batch batch = collate(samples, indices);
  if (options_.pin_memory && options_.device.is_cuda()) {
    batch.images = batch.images.pin_memory();
    for (auto& [k, v] : batch.targets) v = v.pin_memory();
    for (auto& [k, v] : batch.masks) v = v.pin_memory();
  }
  return batch;
}

void DataLoader::worker_loop() {
  for (;;) {
    std::int64_t b;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      space_.wait(lock, [&] {
        return stopping_ || (next_to_load_ < batches_ && next_to_load_ < next_to_deliver_ + options_.prefetch);
      });
      if (stopping_) return;
      b = next_to_load_++;
    }
    Batch batch;
    std::exception_ptr error;
    try {
      batch = load_batch(b);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (error) errors_[b] = error;
      else done_[b] = std::move(batch);
    }
    ready_.notify_all();
  }
}

bool DataLoader::next(Batch& out) {
  if (next_to_deliver_ >= batches_) return false;
  const std::int64_t b = next_to_deliver_;
  Batch batch;
  if (options_.workers == 0) {
    batch = load_batch(b);
  } else {
    auto t0 = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] { return done_.count(b) || errors_.count(b); });
    wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (auto it = errors_.find(b); it != errors_.end()) std::rethrow_exception(it->second);
    batch = std::move(done_.at(b));
    done_.erase(b);
  }
  ++next_to_deliver_;
  space_.notify_all();
  out = options_.device.is_cpu() ? std::move(batch) : batch.to(options_.device, options_.pin_memory);
  return true;
}

}  // namespace s4t::host
