#pragma once
// In-process "ranks" for tests: s4t::Collectives over threads of one process. Each thread plays one rank
// (ThreadRank sets its number); all_reduce_sum blocks until every rank has called it, like a process
// group, so code that all-reduces can be tested on 2 threads without launching processes.
#include <ATen/ATen.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "s4t/collectives.hpp"

namespace s4t::test {

inline thread_local int thread_rank = 0;

class ThreadCollectives : public Collectives {
 public:
  explicit ThreadCollectives(int world_size) : world_size_(world_size) {}
  int rank() const override { return thread_rank; }
  int world_size() const override { return world_size_; }
  int calls() const { return calls_; }

  void all_reduce_sum(std::vector<at::Tensor>& tensors) override {
    std::unique_lock<std::mutex> lock(mutex_);
    if (arrived_ == 0) {
      sums_.clear();
      for (auto& t : tensors) sums_.push_back(t.detach().clone());
    } else {
      if (sums_.size() != tensors.size()) throw std::runtime_error("ThreadCollectives: ranks passed different lists");
      for (std::size_t i = 0; i < tensors.size(); ++i) sums_[i].add_(tensors[i].detach());
    }
    const long generation = generation_;
    if (++arrived_ == world_size_) {
      // The sums move to result_: a rank that returns first may start the next all-reduce (refilling
      // sums_) before the others have copied theirs, but result_ changes only once all have arrived again.
      result_ = std::move(sums_);
      sums_ = {};
      arrived_ = 0;
      ++generation_;
      ++calls_;
      cv_.notify_all();
    } else if (!cv_.wait_for(lock, std::chrono::seconds(60), [&] { return generation_ != generation; })) {
      throw std::runtime_error("ThreadCollectives: a rank did not reach the all-reduce within 60 s");
    }
    for (std::size_t i = 0; i < tensors.size(); ++i) tensors[i].copy_(result_[i]);
  }

 private:
  int world_size_;
  std::mutex mutex_;
  std::condition_variable cv_;
  int arrived_ = 0;
  long generation_ = 0;
  int calls_ = 0;
  std::vector<at::Tensor> sums_, result_;
};

/// Runs body(rank) on `world_size` threads with thread_rank set; rethrows the first exception.
inline void run_ranks(int world_size, const std::function<void(int)>& body) {
  std::vector<std::exception_ptr> errors(world_size);
  std::vector<std::thread> threads;
  for (int r = 0; r < world_size; ++r)
    threads.emplace_back([&, r] {
      thread_rank = r;
      try {
        body(r);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

/// Installs collectives (and the sync-BatchNorm flag) for one test, removing them at scope exit.
struct ScopedCollectives {
  ScopedCollectives(std::shared_ptr<Collectives> c, bool sync_bn) {
    set_collectives(std::move(c));
    set_sync_batch_norm(sync_bn);
  }
  ~ScopedCollectives() {
    set_collectives(nullptr);
    set_sync_batch_norm(false);
  }
};

}  // namespace s4t::test
