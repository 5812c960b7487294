#include "s4t_method.hpp"

#include <ATen/ops/cat.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/zeros_like.h>

#include <numeric>

#include "s4t/error.hpp"
#include "s4t/losses.hpp"
#include "s4t/tensor_ops.hpp"

namespace s4t::s4t_method {

// ---------------------------------------------------------------------------------------------------
// Module

S4TModuleImpl::S4TModuleImpl(const S4TSettings& s, const std::vector<TaskSpec>& tasks, const FeatureInfo& info)
    : latent_(s.latent_channels) {
  if (tasks.empty()) throw PluginError("s4t: the model has no tasks");
  for (auto& t : tasks) {
    task_names_.push_back(t.name);
    task_channels_.push_back(t.channels);
  }
  const auto n_tasks = static_cast<std::int64_t>(tasks.size());

  per_task_ = !info.task_feature_channels.empty();
  for (auto& t : tasks)
    if (!info.task_feature_channels.count(t.name)) per_task_ = false;
  if (per_task_) {  // MTI-Net-like: one 1×1 projection per task feature map
    auto holder = register_module("ts_proj", std::make_shared<torch::nn::Module>("TaskProjections"));
    for (auto& t : tasks)
      ts_proj_.push_back(holder->register_module(
          t.name, torch::nn::Conv2d(torch::nn::Conv2dOptions(info.task_feature_channels.at(t.name), latent_, 1))));
  } else if (info.fused_channels > 0) {  // the paper's shared 1×1 conv, sliced per task
    ts_comp = register_module(
        "ts_comp", torch::nn::Conv2d(torch::nn::Conv2dOptions(info.fused_channels, n_tasks * latent_, 1)));
  } else {
    throw PluginError(
        "s4t: the backbone provides neither a fused feature map nor per-task features for every task; "
        "enable the fused map (resnet: fused = true) or use an architecture with task features");
  }

  auto aux_holder = register_module("aux_heads", std::make_shared<torch::nn::Module>("AuxHeads"));
  for (auto& t : tasks)
    aux_.push_back(aux_holder->register_module(t.name, torch::nn::Conv2d(torch::nn::Conv2dOptions(latent_, t.channels, 1))));

  tbs::TbsOptions o;
  o.in_channels = n_tasks * latent_;
  o.out_channels = std::accumulate(task_channels_.begin(), task_channels_.end(), std::int64_t{0});
  o.input_res = s.tbs_input_res;
  o.patch = s.patch_size;
  o.dim = s.embed_dim;
  o.depth = s.depth;
  o.decoder_depth = s.decoder_depth;
  o.heads = s.heads;
  o.mlp_ratio = s.mlp_ratio;
  o.mask_ratio = s.mask_ratio;
  o.fold_embedding = s.fold_embedding;
  tbs_ = register_module("tbs", std::make_shared<tbs::TaskBehaviorSynchronizerImpl>(o));

  if (s.auto_weight) sigma_ = register_parameter("auto_weight_sigma", at::ones({n_tasks}));
}

std::vector<at::Tensor> S4TModuleImpl::latents(const Features& features) {
  std::vector<at::Tensor> z;
  if (per_task_) {
    for (size_t i = 0; i < task_names_.size(); ++i) {
      auto it = features.task_features.find(task_names_[i]);
      if (it == features.task_features.end() || !it->second.defined())
        throw PluginError("s4t: the backbone gave no task features for task '" + task_names_[i] + "'");
      z.push_back(ts_proj_[i]->forward(it->second));
    }
    return z;
  }
  if (!features.fused.defined())
    throw PluginError("s4t: the backbone's forward pass gave no fused feature map (was it run with stages_only?)");
  return ts_comp->forward(features.fused).split(latent_, 1);
}

std::map<std::string, at::Tensor> S4TModuleImpl::aux_predictions(const std::vector<at::Tensor>& z,
                                                                 std::array<std::int64_t, 2> size) {
  std::map<std::string, at::Tensor> out;
  for (size_t i = 0; i < z.size(); ++i) out[task_names_[i]] = resize_bilinear(aux_[i]->forward(z[i]), size);
  return out;
}

std::vector<at::Tensor> S4TModuleImpl::tbs_predictions(const std::vector<at::Tensor>& z,
                                                       std::array<std::int64_t, 2> size, int only) {
  const auto res = tbs_->options().input_res;
  bool same_size = true;
  for (auto& t : z) same_size = same_size && spatial_size(t) == spatial_size(z.front());
  std::vector<at::Tensor> inputs;
  for (size_t i = 0; i < z.size(); ++i) {
    // Latents of different sizes (per-task features) are resized one by one; the common case
    // concatenates first and resizes once inside the TBS (the same values: bilinear is per channel).
    auto zi = same_size ? z[i] : resize_bilinear(z[i], {res, res});
    inputs.push_back(only >= 0 && static_cast<int>(i) != only ? at::zeros_like(zi) : zi);
  }
  auto y = tbs_->forward(at::cat(inputs, 1)).split_with_sizes(task_channels_, 1);
  std::vector<at::Tensor> out;
  for (auto& t : y) out.push_back(resize_bilinear(t, size));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Method

void S4TMethod::attach(MultiTaskModel& model) {
  const auto& tasks = model.tasks();
  single_ = -1;
  if (!settings_.single_task.empty()) {
    std::string names;
    for (size_t i = 0; i < tasks.size(); ++i) {
      if (tasks[i].name == settings_.single_task) single_ = static_cast<int>(i);
      names += (names.empty() ? "" : ", ") + tasks[i].name;
    }
    if (single_ < 0)
      throw ConfigError("[method.s4t] single_task = \"" + settings_.single_task + "\" names no task of the model (" +
                        names + ")");
  }
  module_ = std::make_shared<S4TModuleImpl>(settings_, tasks, model.feature_info());
  module_->to(model.device());
}

S4TModuleImpl& S4TMethod::checked_module() const {
  if (!module_) throw Error("s4t: the method was used before attach(model)");
  return *module_;
}

at::Tensor S4TMethod::source_objective(MultiTaskModel& model, const Batch& batch, const ModelOutput& output,
                                       const std::map<std::string, at::Tensor>& main_losses) {
  auto& m = checked_module();
  const auto& tasks = model.tasks();
  const auto size = spatial_size(batch.images);
  auto z = m.latents(output.features);
  auto aux = task_losses(tasks, m.aux_predictions(z, size), batch);
  auto tbs_all = m.tbs_predictions(z, size, single_);
  std::map<std::string, at::Tensor> tbs_pred;
  for (size_t i = 0; i < tasks.size(); ++i)
    if (single_ < 0 || static_cast<int>(i) == single_) tbs_pred[tasks[i].name] = tbs_all[i];
  auto tbs = task_losses(tasks, tbs_pred, batch);

  if (!settings_.auto_weight) {
    return weighted_sum(tasks, main_losses)
        .add(weighted_sum(tasks, aux).mul(settings_.lambda_tp))
        .add(weighted_sum(tasks, tbs).mul(settings_.lambda_tbs_source));
  }

  // Uncertainty-style weighting (the released code's Taskonomy source): L = Σ_t 0.5·L_t/σ_t² + log(1 + σ_t²),
  // L_t = main_t (+ its deep-supervision terms) + λ^TP·aux_t + λ^TBS·TBS_t; the task weights w_t are not used.
  for (auto& [key, value] : main_losses) {
    const auto name = key.substr(0, key.find('@'));
    bool found = false;
    for (auto& t : tasks) found = found || t.name == name;
    if (!found) throw Error("s4t: main loss term '" + key + "' names no task of the model");
  }
  at::Tensor total;
  const auto& sigma = m.sigma();
  for (size_t i = 0; i < tasks.size(); ++i) {
    const auto& name = tasks[i].name;
    at::Tensor l;
    auto add = [&l](const at::Tensor& v) { l = l.defined() ? l.add(v) : v; };
    for (auto& [key, value] : main_losses)
      if (key.substr(0, key.find('@')) == name) add(value);
    if (aux.count(name)) add(aux.at(name).mul(settings_.lambda_tp));
    if (tbs.count(name)) add(tbs.at(name).mul(settings_.lambda_tbs_source));
    if (!l.defined()) continue;
    auto s2 = sigma.select(0, static_cast<std::int64_t>(i)).square();
    auto term = l.mul(0.5).div(s2).add(s2.log1p());
    total = total.defined() ? total.add(term) : term;
  }
  if (!total.defined()) throw Error("s4t: no loss terms in the source objective");
  return total;
}

AdaptationPolicy S4TMethod::adaptation_policy(MultiTaskModel&) {
  AdaptationPolicy p;
  p.selects = [prefixes = settings_.adapt](const std::string& name) {
    for (auto& pre : prefixes) {
      if (name == pre) return true;
      if (name.size() > pre.size() && name.compare(0, pre.size(), pre) == 0 && name[pre.size()] == '.') return true;
    }
    return false;
  };
  p.adapt_norm = NormMode::TrainUpdate;
  p.predict_norm = NormMode::Eval;
  p.optimizer = settings_.optimizer;
  return p;
}

at::Tensor S4TMethod::adaptation_loss(MultiTaskModel& model, const at::Tensor& images, const AdaptContext&) {
  auto& m = checked_module();
  const auto& tasks = model.tasks();
  auto out = model.forward(images);
  auto z = m.latents(out.features);
  auto tbs = m.tbs_predictions(z, spatial_size(images), single_);
  at::Tensor loss;
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (single_ >= 0 && static_cast<int>(i) != single_) continue;
    const auto& t = tasks[i];
    auto it = out.predictions.find(t.name);
    if (it == out.predictions.end()) throw PluginError("s4t: the model gave no prediction for task '" + t.name + "'");
    const double c = settings_.double_task_weight ? t.loss_weight * t.loss_weight : t.loss_weight;
    // L1 summed over channels, averaged over batch and pixels; the main prediction is the pseudo-label.
    auto term = tbs[i].sub(it->second.detach()).abs().sum(1).mean().mul(c);
    loss = loss.defined() ? loss.add(term) : term;
  }
  return loss.mul(settings_.lambda_tbs);
}

std::map<std::string, at::Tensor> S4TMethod::task_latents(MultiTaskModel& model, const at::Tensor& images) {
  auto& m = checked_module();
  auto z = m.latents(model.features(images));
  std::map<std::string, at::Tensor> out;
  const auto size = spatial_size(z.front());
  const auto& tasks = model.tasks();
  for (size_t i = 0; i < z.size(); ++i) out[tasks[i].name] = resize_bilinear(z[i], size);
  return out;
}

}  // namespace s4t::s4t_method
