#include "baseline_helpers.hpp"

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include "engine/optimizers.hpp"
#include "s4t/losses.hpp"
#include "s4t/norm.hpp"

namespace s4t::test {

AdaptEmulator::AdaptEmulator(TinyModel& t, double lr) : t_(t) {
  policy_ = t.method->adaptation_policy(*t.model);
  for (auto& p : t.model->root().named_parameters(true)) {
    const bool adapt = policy_.selects && policy_.selects(p.key());
    p.value().set_requires_grad(adapt);
    if (adapt) params_.push_back(p.value());
  }
  OptimizerSpec spec = policy_.optimizer;
  if (lr > 0.0) spec.lr = lr;
  optimizer_ = host::make_optimizer(spec, params_);
  t.method->begin_adaptation(*t.model);
}

AdaptEmulator::~AdaptEmulator() {
  for (auto& p : t_.model->root().parameters(true)) p.set_requires_grad(true);
}

double AdaptEmulator::step(const at::Tensor& images, AdaptContext ctx) {
  auto& root = t_.model->root();
  root.train();
  apply_norm_mode(root, policy_.adapt_norm);
  at::Tensor loss = t_.method->adaptation_loss(*t_.model, images, ctx);
  optimizer_->zero_grad();
  loss.backward();
  optimizer_->step();
  return loss.item<double>();
}

StateDict snapshot(TinyModel& t) {
  StateDict out;
  for (auto& [name, v] : state_dict_of(t.model->root())) out[name] = v.detach().clone();
  return out;
}

namespace {
std::set<std::string> changed(const StateDict& before, const StateDict& after, const std::set<std::string>& names) {
  std::set<std::string> out;
  for (auto& [name, v] : before)
    if (names.count(name) && !at::equal(v, after.at(name))) out.insert(name);
  return out;
}
}  // namespace

std::set<std::string> changed_parameters(TinyModel& t, const StateDict& before, const StateDict& after) {
  std::set<std::string> names;
  for (auto& p : t.model->root().named_parameters(true)) names.insert(p.key());
  return changed(before, after, names);
}

std::set<std::string> changed_buffers(TinyModel& t, const StateDict& before, const StateDict& after) {
  std::set<std::string> names;
  for (auto& b : t.model->root().named_buffers(true)) names.insert(b.key());
  return changed(before, after, names);
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

at::Tensor source_total(TinyModel& t, const Batch& batch, at::Tensor* main_weighted) {
  t.model->root().train();
  auto output = t.model->forward(batch.images);
  auto losses = task_losses(t.tasks, output.predictions, batch);
  if (main_weighted) *main_weighted = weighted_sum(t.tasks, losses).detach();
  return t.method->source_objective(*t.model, batch, output, losses);
}

TinyModelOptions with_options(std::map<std::string, Value> method_options) {
  TinyModelOptions o;
  o.method_options = std::move(method_options);
  return o;
}

double head_mean(const std::vector<double>& v, std::size_t k) {
  double s = 0;
  for (std::size_t i = 0; i < k; ++i) s += v[i];
  return s / static_cast<double>(k);
}

double tail_mean(const std::vector<double>& v, std::size_t k) {
  double s = 0;
  for (std::size_t i = v.size() - k; i < v.size(); ++i) s += v[i];
  return s / static_cast<double>(k);
}

}  // namespace s4t::test
