#include "s4t_host/adaptation_session.hpp"

#include <ATen/ops/isfinite.h>
#include <ATen/ops/stack.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "engine/optimizers.hpp"
#include "engine/plugin_call.hpp"
#include "s4t/error.hpp"
#include "s4t/state_dict.hpp"

namespace s4t::host {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

bool all_gradients_finite(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> maxima;
  for (auto& p : params)
    if (p.grad().defined()) maxima.push_back(p.grad().detach().abs().max().to(at::kFloat));
  if (maxima.empty()) return true;
  return at::isfinite(at::stack(maxima)).all().item<bool>();
}

// True when the optimizer step left a non-finite weight or, with max_relative_update > 0, moved the
// weights by more than that factor of their norm (a finite but exploding update, e.g. lr = 1e30, whose
// weights then give NaN predictions). One host sync for both checks.
bool update_diverged(const std::vector<at::Tensor>& after, const std::vector<at::Tensor>& before,
                     double max_relative_update) {
  if (after.empty()) return false;
  std::vector<at::Tensor> maxima, update, weight;
  for (std::size_t i = 0; i < after.size(); ++i) {
    maxima.push_back(after[i].detach().abs().max().to(at::kDouble));
    update.push_back(after[i].detach().sub(before[i]).norm().to(at::kDouble));
    weight.push_back(before[i].norm().to(at::kDouble));
  }
  auto facts = at::stack({at::isfinite(at::stack(maxima)).all().to(at::kDouble), at::stack(update).norm(),
                          at::stack(weight).norm()})
                   .cpu();
  auto f = facts.accessor<double, 1>();
  if (f[0] == 0.0) return true;
  return max_relative_update > 0.0 && (!std::isfinite(f[1]) || f[1] > max_relative_update * std::max(f[2], 1.0));
}
}  // namespace

AdaptationSession::AdaptationSession(MultiTaskModel& model, TTTMethod& method, SessionOptions options)
    : model_(model), method_(method), options_(std::move(options)), norm_layers_(model.root()) {
  policy_ = call_plugin(options_.method_label, "adaptation_policy", {}, [&] { return method_.adaptation_policy(model_); });
  if (options_.predict_norm) policy_.predict_norm = *options_.predict_norm;
  for (auto& p : model_.root().named_parameters(true)) {
    const bool adapt = policy_.selects && policy_.selects(p.key());
    p.value().set_requires_grad(adapt);
    if (adapt) {
      params_.push_back(p.value());
      adapted_names_.push_back(p.key());
    }
  }
  for (auto& [name, t] : state_dict_of(model_.root())) source_state_.emplace_back(t, t.detach().clone());
  rebuild_optimizer();
}

AdaptationSession::~AdaptationSession() = default;

void AdaptationSession::rebuild_optimizer() { optimizer_ = make_optimizer(policy_.optimizer, params_); }

void AdaptationSession::reset() {
  {
    at::NoGradGuard no_grad;
    for (auto& [live, saved] : source_state_) live.copy_(saved);
  }
  rebuild_optimizer();
  begin();
}

void AdaptationSession::begin() {
  call_plugin(options_.method_label, "begin_adaptation", {}, [&] { method_.begin_adaptation(model_); });
}

void AdaptationSession::undo(const std::vector<at::Tensor>& saved_buffers, const std::vector<at::Tensor>* saved_params) {
  at::NoGradGuard no_grad;
  auto buffers = model_.root().buffers(true);
  for (std::size_t i = 0; i < buffers.size(); ++i) buffers[i].copy_(saved_buffers[i]);
  if (saved_params) {
    for (std::size_t i = 0; i < params_.size(); ++i) params_[i].copy_((*saved_params)[i]);
    rebuild_optimizer();  // its moments may have overflowed too
  } else {
    optimizer_->zero_grad();
  }
  ++diverged_;
}

StepOutcome AdaptationSession::step(const at::Tensor& images, const AdaptContext& context) {
  const auto t0 = Clock::now();
  StepOutcome out;
  auto& root = model_.root();
  root.train();
  norm_layers_.apply(policy_.adapt_norm);
  const bool guard = options_.guard_nonfinite;
  std::vector<at::Tensor> saved_buffers;  // restored if the step diverges
  if (guard)
    for (auto& b : root.buffers(true)) saved_buffers.push_back(b.detach().clone());
  at::Tensor loss = call_plugin(options_.method_label, "adaptation_loss", context,
                                [&] { return method_.adaptation_loss(model_, images, context); });
  if (!loss.defined()) return out;  // the method asks for no update: nothing ran, nothing changed
  out.ran = true;
  if (loss.numel() != 1)
    throw PluginError(options_.method_label + ": adaptation_loss returned a tensor of " + std::to_string(loss.numel()) +
                      " elements at batch " + std::to_string(context.batch_index) + ", step " +
                      std::to_string(context.step) + "; expected a scalar");
  out.loss = loss.item<double>();  // one sync per step: the guard needs it anyway
  if (guard && !std::isfinite(out.loss)) {
    undo(saved_buffers, nullptr);
    out.diverged = true;
    out.loss = std::numeric_limits<double>::quiet_NaN();
    step_seconds_ += seconds_since(t0);
    return out;
  }
  optimizer_->zero_grad();
  if (!params_.empty() && !loss.requires_grad())
    throw PluginError(options_.method_label + ": adaptation_loss at batch " + std::to_string(context.batch_index) +
                      ", step " + std::to_string(context.step) +
                      " has no gradient (it does not depend on any parameter); the policy selects " +
                      std::to_string(params_.size()) + " parameters to adapt");
  call_plugin(options_.method_label, "backward of adaptation_loss", context, [&] { loss.backward(); });
  if (std::none_of(params_.begin(), params_.end(), [](const at::Tensor& p) { return p.grad().defined(); }) &&
      !params_.empty())
    throw PluginError(options_.method_label + ": adaptation_loss at batch " + std::to_string(context.batch_index) +
                      ", step " + std::to_string(context.step) + " reaches none of the " + std::to_string(params_.size()) +
                      " parameters the policy selects (does it use a module the model does not hold?)");
  if (guard && !all_gradients_finite(params_)) {
    undo(saved_buffers, nullptr);
    out.diverged = true;
    step_seconds_ += seconds_since(t0);
    return out;
  }
  std::vector<at::Tensor> before;  // the weights before the update, kept when guarding
  if (guard)
    for (auto& p : params_) before.push_back(p.detach().clone());
  optimizer_->step();
  if (guard && update_diverged(params_, before, options_.max_relative_update)) {
    undo(saved_buffers, &before);
    out.diverged = true;
  } else {
    ++updates_;
    out.updated = true;
  }
  step_seconds_ += seconds_since(t0);
  return out;
}

std::map<std::string, at::Tensor> AdaptationSession::predict(const at::Tensor& images) {
  const auto t0 = Clock::now();
  at::NoGradGuard no_grad;
  auto& root = model_.root();
  root.eval();
  norm_layers_.apply(policy_.predict_norm);
  auto predictions = call_plugin(options_.model_label, "predict", {}, [&] { return model_.forward(images).predictions; });
  predict_seconds_ += seconds_since(t0);
  ++predict_calls_;
  return predictions;
}

std::map<std::string, at::Tensor> AdaptationSession::latents(const at::Tensor& images) {
  at::NoGradGuard no_grad;
  auto& root = model_.root();
  root.eval();
  norm_layers_.apply(policy_.predict_norm);
  return call_plugin(options_.method_label, "task_latents", {}, [&] { return method_.task_latents(model_, images); });
}

}  // namespace s4t::host
