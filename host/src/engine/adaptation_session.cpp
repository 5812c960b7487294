#include "s4t_host/adaptation_session.hpp"

#include <ATen/ops/_foreach_norm.h>
#include <ATen/ops/aminmax.h>
#include <ATen/ops/full_like.h>
#include <ATen/ops/isfinite.h>
#include <ATen/ops/ones_like.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros_like.h>
#include <torch/nn/module.h>
#include <torch/optim/adam.h>
#include <torch/optim/optimizer.h>
#include <torch/optim/sgd.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "engine/compute_mode.hpp"
#include "engine/optimizers.hpp"
#include "engine/plugin_call.hpp"
#include "s4t/error.hpp"
#include "s4t/state_dict.hpp"

namespace s4t::host {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// aminmax reads each gradient once without the temporary of abs(): a tensor is finite when its minimum
// and maximum are (an inf is one of them, a NaN propagates to both).
bool all_gradients_finite(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> extremes;
  for (auto& p : params)
    if (p.grad().defined() && p.grad().numel() > 0) {
      auto [lo, hi] = at::aminmax(p.grad().detach());
      extremes.push_back(lo.to(at::kFloat));
      extremes.push_back(hi.to(at::kFloat));
    }
  if (extremes.empty()) return true;
  return at::isfinite(at::stack(extremes)).all().item<bool>();
}

// True when the optimizer step left a non-finite weight or, with max_relative_update > 0, moved the
// weights by more than that factor of their norm (a finite but exploding update, e.g. lr = 1e30, whose
// weights then give NaN predictions). The weights before the step are finite (the source's, then only
// guarded updates), so a weight after it is non-finite exactly when its change is: a finite norm of the
// changes proves every weight finite, and no pass over the new weights is needed.
bool update_diverged(const std::vector<at::Tensor>& after, const std::vector<at::Tensor>& before,
                     double max_relative_update) {
  if (after.empty()) return false;
  std::vector<at::Tensor> update;
  for (std::size_t i = 0; i < after.size(); ++i) update.push_back(after[i].detach().sub(before[i]).norm().to(at::kDouble));
  const double u = at::stack(update).norm().item<double>();
  if (!std::isfinite(u)) return true;
  // The bound is max_relative_update · max(‖before‖, 1): an update within max_relative_update passes
  // whatever the weights' norm, which is then not computed (the usual small test-time step).
  if (max_relative_update <= 0.0 || u <= max_relative_update) return false;
  auto weight = at::_foreach_norm(before);
  for (auto& w : weight) w = w.to(at::kDouble);
  return u > max_relative_update * std::max(at::stack(weight).norm().item<double>(), 1.0);
}

// The tensors of one parameter's optimizer state (SGD momentum; Adam moments), which a deferred undo
// restores. make_optimizer builds only these two optimizers.
std::vector<at::Tensor*> state_tensors(torch::optim::OptimizerParamState& state) {
  std::vector<at::Tensor*> out;
  if (auto* adam = dynamic_cast<torch::optim::AdamParamState*>(&state)) {
    out = {&adam->exp_avg(), &adam->exp_avg_sq(), &adam->max_exp_avg_sq()};
  } else if (auto* sgd = dynamic_cast<torch::optim::SGDParamState*>(&state)) {
    out = {&sgd->momentum_buffer()};
  }
  out.erase(std::remove_if(out.begin(), out.end(), [](at::Tensor* t) { return !t->defined(); }), out.end());
  return out;
}

// Copies of every optimizer state tensor, keyed by the state object (stable across steps: the map holds
// unique_ptrs), so a deferred undo can put back the moments of before the step without reading anything.
std::map<const void*, std::vector<at::Tensor>> snapshot_state(torch::optim::Optimizer& optimizer) {
  std::map<const void*, std::vector<at::Tensor>> out;
  for (auto& entry : optimizer.state()) {
    auto& copies = out[entry.second.get()];
    for (auto* t : state_tensors(*entry.second)) copies.push_back(t->detach().clone());
  }
  return out;
}

// The device-side guard: true when the loss, every gradient and every updated weight are finite and the
// update is not exploding (the same tests as the synced path, without reading them).
at::Tensor step_kept(const at::Tensor& loss, const std::vector<at::Tensor>& after, const std::vector<at::Tensor>& before,
                     double max_relative_update) {
  std::vector<at::Tensor> maxima{loss.detach().abs().to(at::kDouble)}, update, weight;
  for (std::size_t i = 0; i < after.size(); ++i) {
    if (after[i].grad().defined()) maxima.push_back(after[i].grad().detach().abs().max().to(at::kDouble));
    maxima.push_back(after[i].detach().abs().max().to(at::kDouble));
    update.push_back(after[i].detach().sub(before[i]).norm().to(at::kDouble));
    weight.push_back(before[i].norm().to(at::kDouble));
  }
  at::Tensor kept = at::isfinite(at::stack(maxima)).all();
  if (max_relative_update > 0.0 && !after.empty()) {
    auto u = at::stack(update).norm(), w = at::stack(weight).norm().clamp_min(1.0);
    kept = kept.logical_and(at::isfinite(u)).logical_and(u.le(w.mul(max_relative_update)));
  }
  return kept;
}
}  // namespace

AdaptationSession::AdaptationSession(MultiTaskModel& model, TTTMethod& method, SessionOptions options)
    : model_(model), method_(method), options_(std::move(options)), norm_layers_(model.root()) {
  policy_ = call_plugin(options_.method_label, "adaptation_policy", {}, [&] { return method_.adaptation_policy(model_); });
  if (options_.predict_norm) policy_.predict_norm = *options_.predict_norm;
  to_memory_format(model_.root(), options_.compute.channels_last);  // before the snapshot: it keeps the layout
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

// Gradients of the test-time loss, with the contract checks of both step paths: a loss that depends on
// none of the selected parameters is the method's error, named with its batch and step.
void AdaptationSession::backward_checked(const at::Tensor& loss, const AdaptContext& context) {
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
  at::Tensor loss = compute_loss(images, context);
  if (!loss.defined()) return out;  // the method asks for no update: nothing ran, nothing changed
  out.ran = true;
  if (!options_.sync_each_step) {
    out = step_deferred(loss, context, std::move(saved_buffers));
    step_seconds_ += seconds_since(t0);  // time to enqueue; the device may still be running it
    return out;
  }
  out.loss = loss.item<double>();  // one sync per step: the guard needs it anyway
  if (guard && !std::isfinite(out.loss)) {
    undo(saved_buffers, nullptr);
    out.diverged = true;
    out.loss = std::numeric_limits<double>::quiet_NaN();
    step_seconds_ += seconds_since(t0);
    return out;
  }
  backward_checked(loss, context);
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

at::Tensor AdaptationSession::compute_loss(const at::Tensor& images, const AdaptContext& context) {
  const auto input = to_memory_format(images, options_.compute.channels_last);
  at::Tensor loss;
  {
    AutocastScope autocast(input.device(), options_.compute.bf16);
    loss = call_plugin(options_.method_label, "adaptation_loss", context,
                       [&] { return method_.adaptation_loss(model_, input, context); });
  }
  if (!loss.defined()) return loss;
  if (loss.numel() != 1)
    throw PluginError(options_.method_label + ": adaptation_loss returned a tensor of " + std::to_string(loss.numel()) +
                      " elements at batch " + std::to_string(context.batch_index) + ", step " +
                      std::to_string(context.step) + "; expected a scalar");
  return as_float(loss);  // the guard and the recorded loss in fp32 whatever autocast produced
}

// The deferred step: backward and the optimizer step run unconditionally; the guard's decision is a
// device boolean, and parameters, buffers and optimizer moments are selected back (where) from copies of
// before the step when it is false. Differences from the synced path, for diverged steps only: Adam's
// step counter still advances, and the moments return to their values before the step (the synced
// path keeps them after a non-finite loss or gradient and starts a fresh optimizer after a bad update).
StepOutcome AdaptationSession::step_deferred(const at::Tensor& loss, const AdaptContext& context,
                                             std::vector<at::Tensor> saved_buffers) {
  StepOutcome out;
  out.ran = true;
  out.deferred = true;
  backward_checked(loss, context);
  const bool guard = options_.guard_nonfinite;
  std::vector<at::Tensor> before;
  std::map<const void*, std::vector<at::Tensor>> moments;
  if (guard) {
    for (auto& p : params_) before.push_back(p.detach().clone());
    moments = snapshot_state(*optimizer_);
  }
  optimizer_->step();
  const auto detached = loss.detach();
  pending_loss_.push_back(at::where(at::isfinite(detached), detached, at::full_like(detached, std::nan(""))));
  if (!guard) {
    pending_kept_.push_back(at::ones_like(detached, detached.options().dtype(at::kBool)));
    return out;
  }
  const at::Tensor kept = step_kept(detached, params_, before, options_.max_relative_update);
  {
    at::NoGradGuard no_grad;
    for (std::size_t i = 0; i < params_.size(); ++i) params_[i].copy_(at::where(kept, params_[i].detach(), before[i]));
    auto buffers = model_.root().buffers(true);
    for (std::size_t i = 0; i < buffers.size(); ++i) buffers[i].copy_(at::where(kept, buffers[i], saved_buffers[i]));
    for (auto& entry : optimizer_->state()) {
      auto tensors = state_tensors(*entry.second);
      auto found = moments.find(entry.second.get());
      for (std::size_t i = 0; i < tensors.size(); ++i) {
        auto& t = *tensors[i];
        const bool had = found != moments.end() && i < found->second.size();
        t.copy_(at::where(kept, t, had ? found->second[i] : at::zeros_like(t)));  // a new state starts at zero
      }
    }
  }
  pending_kept_.push_back(kept);
  return out;
}

void AdaptationSession::read_pending() const {
  if (pending_kept_.empty()) return;
  auto loss = at::stack(pending_loss_).to(at::kDouble).cpu();
  auto kept = at::stack(pending_kept_).cpu();  // the one sync of the pending steps
  auto l = loss.accessor<double, 1>();
  auto k = kept.accessor<bool, 1>();
  for (std::int64_t i = 0; i < kept.size(0); ++i) {
    StepRecord r;
    r.loss = l[i];
    r.updated = k[i];
    r.diverged = !k[i];
    (r.updated ? updates_ : diverged_) += 1;
    unread_records_.push_back(r);
  }
  pending_loss_.clear();
  pending_kept_.clear();
}

std::vector<StepRecord> AdaptationSession::flush() {
  read_pending();
  std::vector<StepRecord> out;
  out.swap(unread_records_);
  return out;
}

std::int64_t AdaptationSession::updates() const {
  read_pending();
  return updates_;
}

std::int64_t AdaptationSession::diverged_steps() const {
  read_pending();
  return diverged_;
}

std::map<std::string, at::Tensor> AdaptationSession::predict(const at::Tensor& images) {
  const auto t0 = Clock::now();
  at::NoGradGuard no_grad;
  auto& root = model_.root();
  root.eval();
  norm_layers_.apply(policy_.predict_norm);
  const auto input = to_memory_format(images, options_.compute.channels_last);
  std::map<std::string, at::Tensor> predictions;
  {
    AutocastScope autocast(input.device(), options_.compute.bf16);
    predictions = call_plugin(options_.model_label, "predict", {}, [&] { return model_.forward(input).predictions; });
  }
  predictions = as_float(std::move(predictions));  // metrics in fp32
  predict_seconds_ += seconds_since(t0);
  ++predict_calls_;
  return predictions;
}

std::map<std::string, at::Tensor> AdaptationSession::latents(const at::Tensor& images) {
  at::NoGradGuard no_grad;
  auto& root = model_.root();
  root.eval();
  norm_layers_.apply(policy_.predict_norm);
  const auto input = to_memory_format(images, options_.compute.channels_last);
  AutocastScope autocast(input.device(), options_.compute.bf16);
  return as_float(
      call_plugin(options_.method_label, "task_latents", {}, [&] { return method_.task_latents(model_, input); }));
}

}  // namespace s4t::host
