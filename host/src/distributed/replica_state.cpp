#include "distributed/replica_state.hpp"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <vector>

#include "s4t/error.hpp"

namespace s4t::host {

void broadcast_module_state(DistributedGroup& group, torch::nn::Module& module, bool parameters, bool buffers) {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> tensors;
  if (parameters)
    for (auto& p : module.parameters(true)) tensors.push_back(p);
  if (buffers)
    for (auto& b : module.buffers(true)) tensors.push_back(b);
  // In place: the tensors are the module's own (broadcast copies back when one is not contiguous).
  group.broadcast(tensors, 0);
}

void check_replicas(DistributedGroup& group, torch::nn::Module& module, const std::string& when) {
  std::vector<std::string> names;
  std::vector<at::Tensor> sums;
  for (auto& p : module.named_parameters(true)) {
    names.push_back(p.key());
    sums.push_back(p.value().detach().to(at::kDouble).sum().cpu());
  }
  for (auto& b : module.named_buffers(true)) {
    names.push_back(b.key());
    sums.push_back(b.value().detach().to(at::kDouble).sum().cpu());
  }
  if (sums.empty()) return;
  auto mine = at::stack(sums);
  std::vector<at::Tensor> theirs{mine.clone()};
  group.broadcast(theirs, 0);
  auto same = mine.eq(theirs[0]).logical_or(mine.isnan().logical_and(theirs[0].isnan()));
  if (same.all().item<bool>()) return;
  const auto index = same.logical_not().nonzero()[0][0].item<std::int64_t>();
  throw Error("rank " + std::to_string(group.rank()) + "'s replica differs from rank 0's " + when + ": '" +
              names[static_cast<size_t>(index)] + "' sums to " + std::to_string(mine[index].item<double>()) +
              " here and " + std::to_string(theirs[0][index].item<double>()) + " on rank 0");
}

void agree(DistributedGroup& group, std::int64_t value, const std::string& what, const std::string& hint) {
  auto all = at::zeros({group.world_size()}, at::kDouble);
  all[group.rank()] = static_cast<double>(value);
  std::vector<at::Tensor> one{all};
  group.all_reduce_sum(one);
  std::string listing;
  bool differ = false;
  for (int r = 0; r < group.world_size(); ++r) {
    const auto v = static_cast<std::int64_t>(all[r].item<double>());
    differ = differ || v != value;
    listing += (r ? ", " : "") + ("rank " + std::to_string(r) + ": " + std::to_string(v));
  }
  if (differ) throw Error("the ranks disagree on " + what + " (" + listing + "); " + hint);
}

}  // namespace s4t::host
