#pragma once
// Emulation of the host's adaptation step for method tests, and state-dict comparisons.
#include <ATen/core/Tensor.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "s4t/method.hpp"
#include "s4t/state_dict.hpp"
#include "tiny_model.hpp"

namespace torch::optim { class Optimizer; }

namespace s4t::test {

/// What the host does around adaptation_loss: requires_grad from policy.selects, the policy's optimizer
/// (lr and name may be overridden for a fast test), root.train() + adapt_norm, backward, step.
class AdaptEmulator {
 public:
  explicit AdaptEmulator(TinyModel& t, double lr = -1.0);
  ~AdaptEmulator();
  /// One step; returns the loss value.
  double step(const at::Tensor& images, AdaptContext ctx = {});
  const AdaptationPolicy& policy() const { return policy_; }
  std::size_t adapted_tensors() const { return params_.size(); }

 private:
  TinyModel& t_;
  AdaptationPolicy policy_;
  std::vector<at::Tensor> params_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
};

/// Deep copy of every parameter and buffer of the model.
StateDict snapshot(TinyModel& t);
/// Names whose tensors differ between two snapshots (restricted to parameters, or to buffers).
std::set<std::string> changed_parameters(TinyModel& t, const StateDict& before, const StateDict& after);
std::set<std::string> changed_buffers(TinyModel& t, const StateDict& before, const StateDict& after);
bool starts_with(const std::string& s, const std::string& prefix);
/// The source objective on `batch` as the trainer computes it (main losses from a full forward pass).
at::Tensor source_total(TinyModel& t, const Batch& batch, at::Tensor* main_weighted = nullptr);
/// Tiny-model options (ResNet-18 width 8, 32x32) with these method options.
TinyModelOptions with_options(std::map<std::string, Value> method_options);
/// Mean of the first and of the last `k` values.
double head_mean(const std::vector<double>& v, std::size_t k);
double tail_mean(const std::vector<double>& v, std::size_t k);

}  // namespace s4t::test
