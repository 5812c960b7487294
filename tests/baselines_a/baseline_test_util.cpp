#include "baseline_test_util.hpp"

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/optim/optimizer.h>

#include "engine/optimizers.hpp"
#include "s4t/norm.hpp"

namespace s4t::test {

HostLikeAdapter::HostLikeAdapter(TinyModel& t, std::optional<double> lr) : t_(t) {
  policy = t.method->adaptation_policy(*t.model);
  if (lr) policy.optimizer.lr = *lr;
  for (auto& p : t.model->root().named_parameters(true)) {
    const bool adapt = policy.selects && policy.selects(p.key());
    p.value().set_requires_grad(adapt);
    if (adapt) {
      params_.push_back(p.value());
      selected.push_back(p.key());
    }
  }
  optimizer_ = host::make_optimizer(policy.optimizer, params_);
  t.method->begin_adaptation(*t.model);
}

HostLikeAdapter::~HostLikeAdapter() = default;

double HostLikeAdapter::step(const at::Tensor& images, std::int64_t step) {
  auto& root = t_.model->root();
  root.train();
  apply_norm_mode(root, policy.adapt_norm);
  auto loss = t_.method->adaptation_loss(*t_.model, images, {step, 0});
  optimizer_->zero_grad();
  loss.backward();
  optimizer_->step();
  return loss.item<double>();
}

std::vector<double> HostLikeAdapter::run(const at::Tensor& images, int n) {
  std::vector<double> losses;
  for (int i = 1; i <= n; ++i) losses.push_back(step(images, i));
  return losses;
}

std::map<std::string, at::Tensor> HostLikeAdapter::predict(const at::Tensor& images) {
  at::NoGradGuard no_grad;
  auto& root = t_.model->root();
  root.eval();
  apply_norm_mode(root, policy.predict_norm);
  return t_.model->forward(images).predictions;
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

std::set<std::string> parameter_names(torch::nn::Module& module) {
  std::set<std::string> out;
  for (auto& p : module.named_parameters(true)) out.insert(p.key());
  return out;
}

std::set<std::string> running_stat_names(torch::nn::Module& module) {
  auto ends_with = [](const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  std::set<std::string> out;
  for (auto& b : module.named_buffers(true))
    if (ends_with(b.key(), ".running_mean") || ends_with(b.key(), ".running_var")) out.insert(b.key());
  return out;
}

std::set<std::string> batchnorm_affine_names(torch::nn::Module& module) {
  std::set<std::string> out;
  for (auto& item : module.named_modules(std::string(), false))
    if (dynamic_cast<torch::nn::BatchNorm2dImpl*>(item.value().get()))
      for (auto& p : item.value()->named_parameters(false)) out.insert(item.key() + "." + p.key());
  return out;
}

std::int64_t count_batchnorm(torch::nn::Module& module, const std::string& prefix) {
  std::int64_t n = 0;
  for (auto& item : module.named_modules(std::string(), false))
    if (dynamic_cast<torch::nn::BatchNorm2dImpl*>(item.value().get()) && item.key().rfind(prefix, 0) == 0) ++n;
  return n;
}

std::set<std::string> with_prefix(const std::set<std::string>& names, const std::string& prefix) {
  std::set<std::string> out;
  for (auto& n : names)
    if (n.rfind(prefix, 0) == 0) out.insert(n);
  return out;
}

}  // namespace s4t::test
