// TTTFlow (Osowiechi et al., WACV 2023) on the shared multi-task network (docs/methods.md#tttflow): a
// RealNVP flow models the source distribution of the layer2 (C3) feature map; it is trained after
// source training on frozen features by maximum likelihood, and at test time the encoder up to layer2
// is updated to raise the flow's likelihood of the target features.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/sgd.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "realnvp.hpp"
#include "s4t/error.hpp"
#include "s4t/log.hpp"
#include "s4t/method.hpp"
#include "s4t/optimizer.hpp"
#include "s4t/option_binding.hpp"
#include "s4t/parameter_selection.hpp"
#include "s4t/plugin.hpp"

namespace {

using s4t::tttflow::FlowOptions;
using s4t::tttflow::RealNVP;

struct Settings {
  std::int64_t stage;   // 0-based index into Features::stages: 1 = C3 = layer2
  std::int64_t hidden;  // 0: the stage's channel count
  std::int64_t blocks;
  bool bottleneck;
  std::int64_t flow_epochs;
  double flow_lr, flow_momentum, flow_weight_decay, flow_grad_clip;
  bool flow_cosine;
  bool freeze_later_norm;
  s4t::NormModes norm;
  s4t::OptimizerSpec optimizer;
};

s4t::OptimizerSpec optimizer_defaults() {  // SGD lr 1e-3, momentum 0.9, weight decay 5e-4 (paper)
  s4t::OptimizerSpec d;
  d.name = "sgd";
  d.lr = 1e-3;
  d.momentum = 0.9;
  d.weight_decay = 5e-4;
  return d;
}

const s4t::Binding<Settings>& binding() {
  using S = Settings;
  static const auto b =
      s4t::Binding<S>()
          .integer("stage", &S::stage, 1, "backbone stage the flow models (0 = C2/layer1, 1 = C3/layer2, ...)", 0, 7)
          .integer("hidden", &S::hidden, 0, "width of the coupling ResModules (0 = the stage's channels)", 0, 65536)
          .integer("res_blocks", &S::blocks, 2, "residual blocks per ResModule", 0, 64)
          .flag("bottleneck", &S::bottleneck, true,
                "bottleneck residual blocks (1x1, 3x3, 1x1) instead of two 3x3 convs")
          .integer("flow_epochs", &S::flow_epochs, 1, "passes over the post-training stream to train the flow", 1,
                   100000)
          .real("flow_lr", &S::flow_lr, 0.1, "SGD learning rate of the flow's maximum-likelihood training", 0.0)
          .real("flow_momentum", &S::flow_momentum, 0.9, "SGD momentum of the flow training", 0.0, 1.0)
          .real("flow_weight_decay", &S::flow_weight_decay, 5e-4, "weight decay of the flow training", 0.0)
          .flag("flow_cosine", &S::flow_cosine, true, "cosine learning-rate schedule for the flow training")
          .real("flow_grad_clip", &S::flow_grad_clip, 100.0, "clip the flow's gradient norm to this (0 = off)", 0.0)
          .flag("freeze_later_norm", &S::freeze_later_norm, true,
                "BatchNorms after the flow's stage stay in eval mode while adapting")
          .group(&S::norm, s4t::norm_modes_binding({s4t::NormMode::TrainUpdate, s4t::NormMode::Eval}))
          .group(&S::optimizer, s4t::optimizer_binding(optimizer_defaults()));
  return b;
}

class TTTFlow final : public s4t::TTTMethod {
 public:
  explicit TTTFlow(Settings s) : s_(std::move(s)) {}

  void attach(s4t::MultiTaskModel& model) override {
    const auto channels = model.feature_info().stage_channels();
    if (s_.stage >= static_cast<std::int64_t>(channels.size()))
      throw s4t::PluginError("tttflow: stage " + std::to_string(s_.stage) + " does not exist; the backbone has " +
                             std::to_string(channels.size()) + " stages");
    FlowOptions fo;
    fo.channels = channels[static_cast<size_t>(s_.stage)];
    fo.hidden = s_.hidden > 0 ? s_.hidden : fo.channels;
    fo.blocks = s_.blocks;
    fo.bottleneck = s_.bottleneck;
    flow_ = RealNVP(fo);
  }
  std::shared_ptr<torch::nn::Module> module() override { return flow_.ptr(); }

  /// Trains the flow alone on frozen source features (network in eval mode, features without grad).
  void after_source_training(s4t::MultiTaskModel& model, s4t::BatchStream& source) override {
    auto& root = model.root();
    const bool was_training = root.is_training();
    root.eval();
    flow_->train();
    std::vector<at::Tensor> params = flow_->parameters();
    torch::optim::SGD optimizer(params, torch::optim::SGDOptions(s_.flow_lr)
                                            .momentum(s_.flow_momentum)
                                            .weight_decay(s_.flow_weight_decay));
    const std::int64_t per_epoch = std::max<std::int64_t>(1, source.batches_per_epoch());
    const std::int64_t total = per_epoch * s_.flow_epochs;
    std::int64_t it = 0, skipped = 0;
    double first_step = 0.0, last_epoch = 0.0;
    for (std::int64_t epoch = 0; epoch < s_.flow_epochs; ++epoch) {
      source.restart();
      s4t::Batch batch;
      at::Tensor epoch_sum;
      std::int64_t in_epoch = 0;
      while (source.next(batch)) {
        double lr = s_.flow_lr;
        if (s_.flow_cosine) lr *= 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(it) / static_cast<double>(total)));
        for (auto& g : optimizer.param_groups()) g.options().set_lr(lr);
        at::Tensor x = stage_features(model, batch.images, /*grad=*/false);
        at::Tensor nll = flow_->nll(x);
        optimizer.zero_grad();
        nll.backward();
        const double max_norm = s_.flow_grad_clip > 0.0 ? s_.flow_grad_clip : std::numeric_limits<double>::infinity();
        const double grad_norm = torch::nn::utils::clip_grad_norm_(params, max_norm);
        if (!std::isfinite(nll.item<double>()) || !std::isfinite(grad_norm)) {
          ++skipped;  // a diverging step: keep the last weights
        } else {
          optimizer.step();
          if (it == 0) first_step = nll.item<double>();
          epoch_sum = epoch_sum.defined() ? epoch_sum + nll.detach() : nll.detach();
          ++in_epoch;
        }
        ++it;
      }
      if (in_epoch > 0) last_epoch = epoch_sum.item<double>() / static_cast<double>(in_epoch);
      s4t::log::debug("tttflow: flow epoch {}/{}: NLL {:.4f}", epoch + 1, s_.flow_epochs, last_epoch);
    }
    s4t::log::info("tttflow: flow trained for {} iterations on source stage-{} features; NLL per element "
                   "{:.4f} (first step) -> {:.4f} (mean of the last epoch){}",
                   it, s_.stage, first_step, last_epoch,
                   skipped ? fmt::format(", {} non-finite steps skipped", skipped) : std::string());
    flow_->eval();
    root.train(was_training);
  }

  s4t::AdaptationPolicy adaptation_policy(s4t::MultiTaskModel& model) override {
    s4t::AdaptationPolicy p;
    p.selects = s4t::select_prefixes(s4t::encoder_prefixes_up_to(model.feature_info(), s_.stage, "[method.tttflow]"));
    p.adapt_norm = s_.norm.adapt;
    p.predict_norm = s_.norm.predict;
    p.optimizer = s_.optimizer;
    return p;
  }

  at::Tensor adaptation_loss(s4t::MultiTaskModel& model, const at::Tensor& images, const s4t::AdaptContext&) override {
    flow_->eval();  // the flow is frozen: running statistics of its BatchNorms, no ActNorm initialisation
    return flow_->nll(stage_features(model, images, /*grad=*/true));
  }

 private:
  /// The flow's input. The original runs only the extractor up to the flow's stage at test time, so later
  /// BatchNorms neither see the target batch nor update their statistics: with freeze_later_norm the
  /// forward stops after that stage. Post-training (no grad, eval mode) never needs the later stages.
  at::Tensor stage_features(s4t::MultiTaskModel& model, const at::Tensor& images, bool grad) {
    s4t::ForwardOptions fo;
    fo.stages_only = true;
    if (!grad || s_.freeze_later_norm) fo.stop_after_stage = s_.stage;
    if (grad) return model.features(images, fo).stages.at(static_cast<size_t>(s_.stage));
    at::NoGradGuard no_grad;
    return model.features(images, fo).stages.at(static_cast<size_t>(s_.stage)).detach();
  }

  Settings s_;
  RealNVP flow_{nullptr};
};

const char* kDoc =
    "TTTFlow (Osowiechi et al., WACV 2023) on the shared multi-task network (docs/methods.md#tttflow).\n"
    "Module: a RealNVP flow on the feature map of backbone stage `stage` (default 1 = C3 = ResNet layer2, as "
    "in the paper): affine checkerboard coupling (mask parity 1), ActNorm, coupling (parity 0), ActNorm, "
    "coupling (parity 1). Each coupling's (log s, t) comes from a ResModule(in = C, dim = `hidden` (0 = C), "
    "out = 2C, `res_blocks` bottleneck residual blocks) of weight-normalised convolutions (w = g * v / |v| "
    "per output channel, implemented here), with log s <- a * tanh(log s) + b (scalars a, b, init 0). The "
    "checkerboard is built for each input's feature size, so train and test sizes may differ. With "
    "ResNet-50 (C = 512) each coupling has 8,667,138 parameters; the flow adds 26,003,462: 23,554,124 + "
    "26,003,462 = 49.56 M, Table 6's TTTFlow row.\n"
    "ActNorm [QUIRK fixed]: the `initialised` flag is a registered buffer saved in checkpoints (the released "
    "code re-initialises ActNorm from the first target batch after loading weights), data initialisation "
    "happens only in training mode, and the initial shift is -mean/std so the output is standardised.\n"
    "Source: no change to source training (no source_objective of its own): the shared base checkpoint is "
    "reused. Post-training: the network is frozen (eval mode, features computed without gradient) and only the "
    "flow is trained by maximum likelihood, L = -mean over elements of [log N(z; 0, 1) + log|det|], with SGD "
    "`flow_lr` 0.1, momentum 0.9, weight decay 5e-4 and a cosine schedule (the paper's settings) for "
    "`flow_epochs` passes over the host's post-training stream ([train] post_training_batches). "
    "`flow_grad_clip` (default 100, not in the paper) clips the gradient norm, and non-finite steps are "
    "skipped, so a diverging step cannot ruin the flow.\n"
    "Test: the same NLL of the target batch's features; the flow is frozen and in eval mode. Adapted "
    "parameters: the encoder up to the flow's stage (the parameters the backbone publishes for those stages; "
    "ResNet: conv1, bn1, layer1, layer2 by default), as in the paper; [RECON] task heads and later stages are "
    "not adapted (the flow's input depends only on the adapted stages). BatchNorm: batch statistics with "
    "running-statistics updates in the adapted stages; with `freeze_later_norm` (default) the adaptation "
    "forward stops after the flow's stage, so the later stages are not computed and their BatchNorms keep "
    "their running statistics, as in the original, which runs only the extractor up to that stage; "
    "`freeze_later_norm = false` runs every stage in the adaptation BatchNorm mode. Prediction uses running "
    "statistics.\n"
    "Optimizer: SGD lr 1e-3, momentum 0.9, weight decay 5e-4 (paper); the paper's 10 steps per batch with "
    "reset are host protocol settings.";

void register_tttflow(s4t::Registrar& r) {
  s4t::ComponentInfo info;
  info.name = "tttflow";
  info.summary = "TTTFlow: RealNVP flow on layer2 features trained after source training; NLL at test time";
  info.doc = kDoc;
  info.schema = binding().schema();
  s4t::add_method<TTTFlow>(r, info, [](const s4t::BuildContext&, const s4t::Options& o) {
    return std::make_shared<TTTFlow>(binding().read(o));
  });
}

}  // namespace

S4T_PLUGIN("s4t.tttflow", "1.0.0", register_tttflow)
