#pragma once
// Shared helpers of the baseline method tests: a host-like adaptation loop on a tiny model and
// state comparisons.
#include <ATen/core/Tensor.h>

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "s4t/method.hpp"
#include "s4t/state_dict.hpp"
#include "tiny_model.hpp"

namespace torch::optim { class Optimizer; }

namespace s4t::test {

/// Emulates the host's adaptation step: root().train(), the policy's adapt_norm, requires_grad by
/// policy.selects, the method's loss, backward, optimizer step.
class HostLikeAdapter {
 public:
  /// `lr` overrides the method's learning rate (tests may use a larger one).
  explicit HostLikeAdapter(TinyModel& t, std::optional<double> lr = std::nullopt);
  ~HostLikeAdapter();
  /// One step on `images`; returns the loss before the update.
  double step(const at::Tensor& images, std::int64_t step = 1);
  /// `n` steps on the same images; the losses.
  std::vector<double> run(const at::Tensor& images, int n);
  /// Predictions as the host makes them after a step (eval + policy.predict_norm, no grad).
  std::map<std::string, at::Tensor> predict(const at::Tensor& images);

  AdaptationPolicy policy;
  std::vector<std::string> selected;  ///< full names of the adapted parameters

 private:
  TinyModel& t_;
  std::vector<at::Tensor> params_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
};

/// Deep copies of every parameter and buffer of `module`.
StateDict clone_state(torch::nn::Module& module);
/// Names of parameters (buffers = false) or buffers (true) of `module` that differ from `before`.
std::set<std::string> changed(torch::nn::Module& module, const StateDict& before, bool buffers = false);
/// Names of all parameters of `module`.
std::set<std::string> parameter_names(torch::nn::Module& module);
/// Names of the running_mean/running_var buffers of every BatchNorm of `module`.
std::set<std::string> running_stat_names(torch::nn::Module& module);
/// Full names of the affine parameters of every BatchNorm layer (by module type).
std::set<std::string> batchnorm_affine_names(torch::nn::Module& module);
/// Number of BatchNorm2d modules whose name starts with `prefix`.
std::int64_t count_batchnorm(torch::nn::Module& module, const std::string& prefix);
/// Names that start with `prefix`.
std::set<std::string> with_prefix(const std::set<std::string>& names, const std::string& prefix);

}  // namespace s4t::test
