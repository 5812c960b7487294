#include "s4t_method.hpp"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/zeros_like.h>

#include <numeric>

#include "s4t/error.hpp"
#include "s4t/losses.hpp"
#include "s4t/tensor_ops.hpp"
#include "latent_projection.hpp"
#include "released_normals_loss.hpp"

namespace s4t::s4t_method {

// ---------------------------------------------------------------------------------------------------
// Module

S4TModuleImpl::S4TModuleImpl(const S4TSettings& s, const std::vector<TaskSpec>& tasks, const FeatureInfo& info)
    : latent_(s.latent_channels), per_stage_(s.per_stage_projection) {
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
  o.decoder_dim = s.decoder_embed_dim;
  o.decoder_heads = s.decoder_heads;
  o.mlp_ratio = s.mlp_ratio;
  o.mask_ratio = s.mask_ratio;
  o.fold_embedding = s.fold_embedding;
  tbs_ = register_module("tbs", std::make_shared<tbs::TaskBehaviorSynchronizerImpl>(o));

  if (s.auto_weight) sigma_ = register_parameter("auto_weight_sigma", at::ones({n_tasks}));
  // The released code's Taskonomy-target criterion: a fresh uncertainty-weighting module whose σ_t the
  // test-time SGD optimises with the network (utils/common_config.py, get_optimizer). Kept in the module
  // so the host's optimizer holds it; the source objective never uses it (it stays 1 in checkpoints).
  if (s.ttt_uncertainty) ttt_sigma_ = register_parameter("ttt_sigma", at::ones({n_tasks}));
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
  // latent_projection = "per_stage": where the fused map is the resized stages (checked once, on the first
  // forward pass), the same linear map stage by stage (latent_projection.hpp).
  if (per_stage_ && fused_is_stages_ < 0) fused_is_stages_ = fused_is_resized_stages(features.fused, features.stages) ? 1 : 0;
  if (per_stage_ && fused_is_stages_ == 1)
    return project_stages(features.stages, ts_comp->weight, ts_comp->bias, spatial_size(features.fused)).split(latent_, 1);
  return project_fused(features.fused, ts_comp->weight, ts_comp->bias).split(latent_, 1);
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
  // Test-time task weights c_t: explicit, or from the tasks' loss weights (w_t, or w_t^2 with
  // double_task_weight) under fixed weighting, 1 under uncertainty weighting (the σ_t weigh the tasks).
  ttt_weights_.clear();
  if (!settings_.ttt_task_weights.empty()) {
    if (settings_.ttt_task_weights.size() != tasks.size()) {
      std::string names;
      for (auto& t : tasks) names += (names.empty() ? "" : ", ") + t.name;
      throw ConfigError("[method.s4t] ttt_task_weights has " + std::to_string(settings_.ttt_task_weights.size()) +
                        " values; expected one per task of the model, in [tasks] names order (" + names + ")");
    }
    ttt_weights_ = settings_.ttt_task_weights;
  } else {
    for (auto& t : tasks)
      ttt_weights_.push_back(settings_.ttt_uncertainty      ? 1.0
                             : settings_.double_task_weight ? t.loss_weight * t.loss_weight
                                                            : t.loss_weight);
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
  auto aux_pred = m.aux_predictions(z, size);
  auto aux = task_losses(tasks, aux_pred, batch);
  auto tbs_all = m.tbs_predictions(z, size, single_);
  std::map<std::string, at::Tensor> tbs_pred;
  for (size_t i = 0; i < tasks.size(); ++i)
    if (single_ < 0 || static_cast<int>(i) == single_) tbs_pred[tasks[i].name] = tbs_all[i];
  auto tbs = task_losses(tasks, tbs_pred, batch);

  // normals_loss = "released_cosine_width": the release's Taskonomy-source normals loss (a quirk,
  // released_normals_loss.hpp) replaces the spec's loss for the main, aux and TBS terms of every
  // normal_l1 task; deep-supervision terms ("<task>@ds<k>") keep the spec's loss.
  std::map<std::string, at::Tensor> main = main_losses;
  if (settings_.released_normals_loss) {
    for (size_t i = 0; i < tasks.size(); ++i) {
      const auto& t = tasks[i];
      if (t.loss != LossKind::NormalL1) continue;
      auto target = batch.targets.find(t.name);
      if (target == batch.targets.end()) throw DataError("batch has no target for task '" + t.name + "'");
      auto it = output.predictions.find(t.name);
      if (main.count(t.name) && it != output.predictions.end())
        main[t.name] = released_cosine_width_loss(it->second, target->second);
      if (aux.count(t.name)) aux[t.name] = released_cosine_width_loss(aux_pred.at(t.name), target->second);
      if (tbs.count(t.name)) tbs[t.name] = released_cosine_width_loss(tbs_all[i], target->second);
    }
  }

  if (!settings_.auto_weight) {
    return weighted_sum(tasks, main)
        .add(weighted_sum(tasks, aux).mul(settings_.lambda_tp))
        .add(weighted_sum(tasks, tbs).mul(settings_.lambda_tbs_source));
  }

  // Uncertainty-style weighting (the released code's Taskonomy source): L = Σ_t 0.5·L_t/σ_t² + log(1 + σ_t²),
  // L_t = main_t (+ its deep-supervision terms) + λ^TP·aux_t + λ^TBS·TBS_t; the task weights w_t are not used.
  for (auto& [key, value] : main) {
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
    for (auto& [key, value] : main)
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
  // The σ_t of the test-time uncertainty weighting always adapt (the release optimises them together
  // with the network, whatever else adapts).
  p.selects = [prefixes = settings_.adapt, sigma = settings_.ttt_uncertainty](const std::string& name) {
    if (sigma && name == "method.ttt_sigma") return true;
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

void S4TMethod::begin_adaptation(MultiTaskModel&) {
  // A fresh uncertainty-weighting module per adaptation, as the release builds its criterion anew.
  auto& m = checked_module();
  if (m.ttt_sigma().defined()) {
    at::NoGradGuard no_grad;
    m.ttt_sigma().fill_(1.0);
  }
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
    // L1 summed over channels, averaged over batch and pixels; the main prediction is the pseudo-label.
    auto term = tbs[i].sub(it->second.detach()).abs().sum(1).mean().mul(ttt_weights_[i]);
    if (settings_.ttt_uncertainty) {
      // The release's AutomaticWeightedLoss over the λ^TBS·c_t·L1_t terms (losses/AutomaticWeightedLoss.py,
      // losses/loss_schemes.py MTLoss_S4T_taskonomy_v2): 0.5 / σ_t² · term + log(1 + σ_t²).
      auto s2 = m.ttt_sigma().select(0, static_cast<std::int64_t>(i)).square();
      term = term.mul(settings_.lambda_tbs).mul(0.5).div(s2).add(s2.log1p());
    }
    loss = loss.defined() ? loss.add(term) : term;
  }
  return settings_.ttt_uncertainty ? loss : loss.mul(settings_.lambda_tbs);
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
