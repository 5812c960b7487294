#include "s4t/losses.hpp"

#include <ATen/ATen.h>

#include "s4t/error.hpp"

namespace s4t {

namespace {
at::Tensor mask_of(const Batch& batch, const TaskSpec& task, const at::Tensor& prediction) {
  auto it = batch.masks.find(task.name);
  if (it == batch.masks.end()) throw DataError("batch has no mask for task '" + task.name + "'");
  return it->second.to(prediction.scalar_type());
}
at::Tensor target_of(const Batch& batch, const TaskSpec& task) {
  auto it = batch.targets.find(task.name);
  if (it == batch.targets.end()) throw DataError("batch has no target for task '" + task.name + "'");
  return it->second;
}
// Divides by the number of valid pixels without a host sync; 0 valid pixels gives 0.
at::Tensor per_valid(const at::Tensor& sum, const at::Tensor& mask) { return sum / mask.sum().clamp_min(1.0); }
}  // namespace

at::Tensor task_loss(const TaskSpec& task, const at::Tensor& prediction, const Batch& batch) {
  const at::Tensor target = target_of(batch, task);
  switch (task.loss) {
    case LossKind::CrossEntropy: {
      auto per_pixel = at::cross_entropy_loss(prediction, target, {}, at::Reduction::None, task.ignore_index);
      auto valid = target.ne(task.ignore_index).to(prediction.scalar_type());
      return per_valid(per_pixel.mul(valid).sum(), valid);
    }
    case LossKind::L1: {
      auto mask = mask_of(batch, task, prediction);
      return per_valid(prediction.sub(target).abs().mul(mask).sum(), mask);
    }
    case LossKind::NormalL1: {
      auto mask = mask_of(batch, task, prediction);
      auto norm = prediction.norm(2, {1}, /*keepdim=*/true).clamp_min(1e-12);
      return per_valid(prediction.div(norm).sub(target).abs().mul(mask).sum(), mask);
    }
    case LossKind::BalancedBCE: {
      auto mask = mask_of(batch, task, prediction);
      const double w = task.positive_weight;
      // w·y·(−log σ(s)) + (1−w)·(1−y)·(−log(1−σ(s))), with −log σ(s) = softplus(−s)
      auto pos = at::softplus(prediction.neg()).mul(target).mul(w);
      auto neg = at::softplus(prediction).mul(at::rsub(target, 1.0)).mul(1.0 - w);
      return per_valid(pos.add(neg).mul(mask).sum(), mask);
    }
  }
  throw Error("unknown loss kind for task '" + task.name + "'");
}

std::map<std::string, at::Tensor> task_losses(const std::vector<TaskSpec>& tasks,
                                              const std::map<std::string, at::Tensor>& predictions,
                                              const Batch& batch) {
  std::map<std::string, at::Tensor> out;
  for (auto& t : tasks) {
    auto it = predictions.find(t.name);
    if (it != predictions.end()) out[t.name] = task_loss(t, it->second, batch);
  }
  return out;
}

at::Tensor weighted_sum(const std::vector<TaskSpec>& tasks, const std::map<std::string, at::Tensor>& losses) {
  at::Tensor total;
  for (auto& [key, value] : losses) {
    const std::string task_name = key.substr(0, key.find('@'));
    double w = 1.0;
    bool found = false;
    for (auto& t : tasks)
      if (t.name == task_name) { w = t.loss_weight; found = true; }
    if (!found) throw Error("loss term '" + key + "' names no task of the model");
    auto term = value.mul(w);
    total = total.defined() ? total.add(term) : term;
  }
  if (!total.defined()) throw Error("weighted_sum: no loss terms");
  return total;
}

}  // namespace s4t
