#include "distributed/gradient_sync.hpp"

#include <ATen/ATen.h>

#include "s4t/error.hpp"

namespace s4t::host {

GradientSync::GradientSync(std::shared_ptr<DistributedGroup> group, std::vector<at::Tensor> parameters,
                           std::int64_t first_bucket_bytes, std::int64_t bucket_bytes)
    : group_(std::move(group)), parameters_(std::move(parameters)) {
  const std::size_t n = parameters_.size();
  bucket_of_.assign(n, 0);
  slot_of_.assign(n, 0);
  used_.assign(n, 0);
  // Reverse order: the last layers' gradients come first in the backward pass.
  std::int64_t filled = 0;
  for (std::size_t k = n; k-- > 0;) {
    const at::Tensor& p = parameters_[k];
    if (!p.requires_grad()) throw Error("internal: GradientSync got a parameter that does not require a gradient");
    const std::int64_t cap = buckets_.size() <= 1 ? first_bucket_bytes : bucket_bytes;
    const bool same_kind = !buckets_.empty() &&
                           parameters_[buckets_.back().members.front()].scalar_type() == p.scalar_type() &&
                           parameters_[buckets_.back().members.front()].device() == p.device();
    const std::int64_t bytes = p.numel() * static_cast<std::int64_t>(p.element_size());
    if (buckets_.empty() || !same_kind || (filled > 0 && filled + bytes > cap)) {
      buckets_.emplace_back();
      filled = 0;
    }
    Bucket& b = buckets_.back();
    bucket_of_[k] = buckets_.size() - 1;
    slot_of_[k] = b.members.size();
    b.offsets.push_back(b.members.empty() ? 0 : b.offsets.back() + parameters_[b.members.back()].numel());
    b.members.push_back(k);
    filled += bytes;
  }
  for (auto& b : buckets_) {
    const at::Tensor& last = parameters_[b.members.back()];
    b.flat = at::zeros({b.offsets.back() + last.numel()}, last.options().requires_grad(false));
  }
  for (std::size_t k = 0; k < n; ++k)
    hooks_.push_back(parameters_[k].register_hook([this, k](const at::Tensor& grad) { on_gradient(k, grad); }));
}

GradientSync::~GradientSync() {
  for (std::size_t k = 0; k < hooks_.size(); ++k) parameters_[k].remove_hook(hooks_[k]);
  for (auto& b : buckets_)
    if (b.pending) try {
        b.pending->wait();  // no collective may be left running on a buffer that goes away
      } catch (...) {
      }
}

void GradientSync::prepare() {
  for (auto& b : buckets_) {
    if (b.pending) b.pending->wait();
    b.pending.reset();
    b.ready = 0;
  }
  std::fill(used_.begin(), used_.end(), 0);
  next_launch_ = overlapped_ = 0;
  armed_ = true;
}

void GradientSync::on_gradient(std::size_t k, const at::Tensor& grad) {
  if (!armed_ || !grad.defined()) return;
  Bucket& b = buckets_[bucket_of_[k]];
  const std::size_t slot = slot_of_[k];
  auto view = b.flat.narrow(0, b.offsets[slot], parameters_[k].numel());
  if (used_[k]) view.add_(grad.reshape(-1));  // a second backward through the same parameter before finish()
  else {
    view.copy_(grad.reshape(-1));
    used_[k] = 1;
    ++b.ready;
  }
  if (b.ready == b.members.size()) launch_ready_buckets();
}

void GradientSync::launch(std::size_t i) {
  Bucket& b = buckets_[i];
  b.pending = group_->all_reduce_sum_async(b.flat, "the gradient all-reduce (bucket " + std::to_string(i + 1) + " of " +
                                                       std::to_string(buckets_.size()) + ")");
}

// In bucket order only: every rank must issue the same collectives in the same sequence.
void GradientSync::launch_ready_buckets() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].ready == buckets_[next_launch_].members.size()) {
    launch(next_launch_++);
    ++overlapped_;
  }
}

bool GradientSync::finish(bool stop_requested) {
  if (!armed_) throw Error("internal: GradientSync::finish() without prepare()");
  armed_ = false;
  for (; next_launch_ < buckets_.size(); ++next_launch_) {
    Bucket& b = buckets_[next_launch_];
    for (std::size_t slot = 0; slot < b.members.size(); ++slot)
      if (!used_[b.members[slot]]) b.flat.narrow(0, b.offsets[slot], parameters_[b.members[slot]].numel()).zero_();
    launch(next_launch_);
  }
  // Which parameters got a gradient on any rank, and whether any rank asks to stop.
  auto flags = at::zeros({static_cast<std::int64_t>(used_.size()) + 1}, at::kFloat);
  auto* f = flags.data_ptr<float>();
  for (std::size_t k = 0; k < used_.size(); ++k) f[k] = used_[k] ? 1.f : 0.f;
  f[used_.size()] = stop_requested ? 1.f : 0.f;
  auto device_flags = parameters_.empty() ? flags : flags.to(parameters_.front().device());
  auto flag_work = group_->all_reduce_sum_async(device_flags, "the end-of-step all-reduce");
  for (auto& b : buckets_) {
    b.pending->wait();
    b.pending.reset();
  }
  flag_work->wait();
  flags = device_flags.cpu();
  f = flags.data_ptr<float>();
  const double scale = 1.0 / static_cast<double>(group_->world_size());
  for (auto& b : buckets_) {
    b.flat.mul_(scale);
    for (std::size_t slot = 0; slot < b.members.size(); ++slot) {
      at::Tensor& p = parameters_[b.members[slot]];
      at::Tensor& g = p.mutable_grad();
      if (f[b.members[slot]] == 0.f) {
        g = at::Tensor();  // no rank used it: as in one process, the optimizer skips it
        continue;
      }
      auto mean = b.flat.narrow(0, b.offsets[slot], p.numel()).view(p.sizes());
      if (g.defined()) g.copy_(mean);
      else g = mean.clone(at::MemoryFormat::Contiguous);
    }
  }
  return f[used_.size()] > 0.f;
}

}  // namespace s4t::host
