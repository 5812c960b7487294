// Tasks, random batches and state comparisons for tests.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "s4t_testkit/testkit.hpp"

namespace s4t::testkit {

std::vector<TaskSpec> standard_tasks(std::int64_t classes) {
  std::vector<std::string> names;
  for (std::int64_t i = 0; i < classes; ++i) names.push_back("c" + std::to_string(i));
  return {semseg_task(names), depth_task(), normals_task(), edge_task()};
}

Batch random_batch(const std::vector<TaskSpec>& tasks, std::int64_t n, std::array<std::int64_t, 2> size,
                   std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto h = size[0], w = size[1];
  Batch b;
  b.images = at::randn({n, 3, h, w}, gen);
  for (auto& t : tasks) {
    if (t.kind == TaskKind::Classification)
      b.targets[t.name] = at::randint(0, t.channels, {n, h, w}, gen, at::TensorOptions().dtype(at::kLong));
    else if (t.loss == LossKind::NormalL1) {
      auto v = at::randn({n, 3, h, w}, gen);
      b.targets[t.name] = v.div(v.norm(2, {1}, true));
    } else if (t.loss == LossKind::BalancedBCE) {
      b.targets[t.name] = at::rand({n, 1, h, w}, gen).gt(0.8).to(at::kFloat);
    } else {
      b.targets[t.name] = at::rand({n, t.channels, h, w}, gen).mul(5.0).add(1.0);
    }
    b.masks[t.name] = at::ones({n, 1, h, w}, at::TensorOptions().dtype(at::kBool));
  }
  for (std::int64_t i = 0; i < n; ++i) b.indices.push_back(i);
  return b;
}

StateDict clone_state(torch::nn::Module& module) {
  StateDict out;
  for (auto& [name, t] : state_dict_of(module)) out[name] = t.detach().clone();
  return out;
}

std::set<std::string> changed(torch::nn::Module& module, const StateDict& before, bool buffers) {
  std::set<std::string> out;
  auto check = [&](const std::string& name, const at::Tensor& t) {
    if (!at::equal(t.detach(), before.at(name))) out.insert(name);
  };
  if (buffers)
    for (auto& b : module.named_buffers(true)) check(b.key(), b.value());
  else
    for (auto& p : module.named_parameters(true)) check(p.key(), p.value());
  return out;
}

bool VectorBatchStream::next(Batch& out) {
  if (position_ >= batches_.size()) return false;
  out = batches_[position_++];
  return true;
}

}  // namespace s4t::testkit
