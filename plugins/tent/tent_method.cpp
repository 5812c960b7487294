// TENT (Wang et al., ICLR 2021; docs/methods.md#tent): minimise the Shannon entropy of the model's own
// predictions, adapting only the affine parameters (γ, β) of the BatchNorm layers, with BatchNorm
// normalising by the statistics of the current test batch.
//
// Multi-task adaptation [RECON]: the entropy is taken on the classification-like outputs of the
// multi-task network — the per-pixel softmax of semseg (default) and, optionally, the per-pixel
// Bernoulli (sigmoid) of the edge logits. Regression outputs (depth, normals) have no entropy and are
// refused. Because γ/β of the shared backbone are updated, every task's prediction changes.
#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "s4t/error.hpp"
#include "s4t/log.hpp"
#include "s4t/method.hpp"
#include "s4t/option_binding.hpp"
#include "s4t/optimizer.hpp"
#include "s4t/parameter_selection.hpp"
#include "s4t/plugin.hpp"

namespace {

// Options of [method.tent]; keys and defaults in binding().
struct Settings {
  std::vector<std::string> tasks;
  bool batch_stats_in_prediction;  // predict_norm = "batch"
  s4t::OptimizerSpec optimizer;
};

const s4t::Binding<Settings>& binding() {
  static const auto b = [] {
    s4t::OptimizerSpec d;
    d.name = "adam";
    d.lr = 1e-3;
    d.beta1 = 0.9;
    d.beta2 = 0.999;
    return s4t::Binding<Settings>()
        .texts("tasks", &Settings::tasks, {"semseg"},
               "tasks whose entropy is minimised: classification (softmax entropy) or sigmoid (binary entropy, "
               "e.g. edge) tasks")
        .choice("predict_norm", &Settings::batch_stats_in_prediction, "batch", {{"batch", true}, {"running", false}},
                "batch: test-batch statistics in adaptation and prediction (TENT); running: update the running "
                "statistics and predict with them")
        .group(&Settings::optimizer, s4t::optimizer_binding(d));
  }();
  return b;
}

// Mean over pixels (and the batch) of the Shannon entropy of the softmax over channels.
at::Tensor softmax_entropy(const at::Tensor& logits) {
  return at::softmax(logits, 1).mul(at::log_softmax(logits, 1)).sum(1).neg().mean();
}

// Mean over pixels of the binary entropy of sigmoid(logits), in a numerically stable form:
// H = p·softplus(−s) + (1 − p)·softplus(s), p = σ(s).
at::Tensor binary_entropy(const at::Tensor& logits) {
  auto p = at::sigmoid(logits);
  return p.mul(at::softplus(logits.neg())).add(p.neg().add(1.0).mul(at::softplus(logits))).mean();
}

struct EntropyTerm {
  std::string task;
  bool softmax = true;  // false: binary (sigmoid) entropy
};

class Tent final : public s4t::TTTMethod {
 public:
  explicit Tent(Settings s) : s_(std::move(s)) {}

  void attach(s4t::MultiTaskModel& model) override {
    terms_.clear();
    for (auto& name : s_.tasks) {
      const s4t::TaskSpec* spec = nullptr;
      for (auto& t : model.tasks())
        if (t.name == name) spec = &t;
      if (!spec) {
        s4t::log::warn("tent: task '{}' is not a task of this model; it is left out of the entropy", name);
        continue;
      }
      if (spec->kind == s4t::TaskKind::Classification) terms_.push_back({name, true});
      else if (spec->activation == s4t::Activation::Sigmoid || spec->loss == s4t::LossKind::BalancedBCE)
        terms_.push_back({name, false});
      else
        throw s4t::ConfigError("[method.tent] tasks: '" + name +
                               "' is a regression task without a probabilistic output; TENT's entropy needs a "
                               "classification (softmax) or binary (sigmoid) output, e.g. semseg or edge");
    }
    if (terms_.empty())
      throw s4t::ConfigError("[method.tent] tasks: none of the listed tasks is in the model; list a "
                             "classification task such as semseg (or edge)");
  }

  s4t::AdaptationPolicy adaptation_policy(s4t::MultiTaskModel& model) override {
    s4t::AdaptationPolicy p;
    // Affine parameters of the normalisation layers, found by module type. The in-tree backbones and
    // heads build BatchNorm only, so these are exactly TENT's BatchNorm gamma/beta; a backbone with
    // GroupNorm/LayerNorm would have those adapted too.
    p.selects = s4t::select_names(s4t::norm_affine_parameter_names(model.root()));
    // TENT drops the running statistics (track_running_stats = False): every forward pass, adaptation
    // and prediction, normalises with the statistics of the current test batch. TrainFrozen gives
    // exactly that without touching the stored source statistics.
    p.adapt_norm = s_.batch_stats_in_prediction ? s4t::NormMode::TrainFrozen : s4t::NormMode::TrainUpdate;
    p.predict_norm = s_.batch_stats_in_prediction ? s4t::NormMode::TrainFrozen : s4t::NormMode::Eval;
    p.optimizer = s_.optimizer;
    return p;
  }

  at::Tensor adaptation_loss(s4t::MultiTaskModel& model, const at::Tensor& images, const s4t::AdaptContext&) override {
    auto predictions = model.forward(images).predictions;
    at::Tensor loss;
    for (auto& term : terms_) {
      auto& logits = predictions.at(term.task);
      auto h = term.softmax ? softmax_entropy(logits) : binary_entropy(logits);
      loss = loss.defined() ? loss.add(h) : h;
    }
    return loss;
  }

 private:
  Settings s_;
  std::vector<EntropyTerm> terms_;
};

void register_tent(s4t::Registrar& r) {
  s4t::ComponentInfo info;
  info.name = "tent";
  info.summary = "TENT: entropy minimisation on BatchNorm affine parameters with test-batch statistics";
  info.doc =
      "TENT (Wang et al., ICLR 2021; docs/methods.md#tent). No source-time module; adapts from the shared base "
      "checkpoint.\n"
      "Loss: mean over pixels and images of the Shannon entropy of each listed task's prediction, summed over "
      "the listed tasks (`tasks`). Multi-task decision [RECON]: default only semseg (per-pixel softmax over the "
      "classes, as TENT's own segmentation experiment); a sigmoid task such as `edge` adds the per-pixel binary "
      "entropy H(sigmoid(s)). Depth and normals have no entropy and are refused. Tasks not in the model are "
      "skipped with a warning.\n"
      "Updated parameters: the affine weight and bias (gamma, beta) of every BatchNorm layer of the model "
      "(all in the shared backbone for ResNet + 1x1 heads); everything else is frozen.\n"
      "BatchNorm: `predict_norm = \"batch\"` (default, faithful): TENT discards the running statistics, so "
      "both the adaptation pass and the prediction pass normalise with the current test batch's statistics "
      "(NormMode train_frozen for both; the stored source statistics are never changed). Note that this makes "
      "the host's step-0 prediction of this method BN-adapted (test-batch statistics), not the source model: "
      "compare with the `none` method for the source baseline. `\"running\"`: adapt with train_update and "
      "predict with the updated running statistics (eval), a non-TENT variant.\n"
      "Optimizer: Adam lr 1e-3, betas (0.9, 0.999), no weight decay (the official repository's default, "
      "CIFAR configuration with batch 128/200); the paper's ImageNet setting is SGD lr 2.5e-4 momentum 0.9 "
      "(batch 64) — set optimizer/lr/momentum to use it. TENT takes 1 step per batch, online; steps and "
      "episodic/online are the host protocol's choice here.";
  info.schema = binding().schema();
  s4t::add_method<Tent>(r, info, [](const s4t::BuildContext&, const s4t::Options& o) {
    return std::make_shared<Tent>(binding().read(o));
  });
}

}  // namespace

S4T_PLUGIN("s4t.tent", "1.0.0", register_tent)
