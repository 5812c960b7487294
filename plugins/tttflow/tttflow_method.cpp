// TTTFlow (Osowiechi et al., WACV 2023) on the shared multi-task network (METHODS.md §2.5): a RealNVP
// flow models the source distribution of the layer2 (C3) feature map; it is trained after source
// training on frozen features by maximum likelihood, and at test time the encoder up to layer2 is
// updated to raise the flow's likelihood of the target features.
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
#include "s4t/norm.hpp"
#include "s4t/optimizer.hpp"
#include "s4t/plugin.hpp"
#include <spdlog/spdlog.h>

namespace {

using s4t::tttflow::FlowOptions;
using s4t::tttflow::RealNVP;

struct Settings {
  std::int64_t stage = 1;        // 0-based index into Features::stages: 1 = C3 = layer2
  std::int64_t hidden = 0;       // 0: the stage's channel count
  std::int64_t blocks = 2;
  bool bottleneck = true;
  std::int64_t flow_epochs = 1;
  double flow_lr = 0.1, flow_momentum = 0.9, flow_weight_decay = 5e-4, flow_grad_clip = 100.0;
  bool flow_cosine = true;
  bool freeze_later_norm = true;
  s4t::NormMode adapt_norm = s4t::NormMode::TrainUpdate;
  s4t::NormMode predict_norm = s4t::NormMode::Eval;
  s4t::OptimizerSpec optimizer;
};

/// "backbone.conv1.", "backbone.bn1.", "backbone.layer1." ... "backbone.layer<stage+1>.".
std::vector<std::string> encoder_prefixes(std::int64_t stage) {
  std::vector<std::string> p{"backbone.conv1.", "backbone.bn1."};
  for (std::int64_t l = 1; l <= stage + 1; ++l) p.push_back("backbone.layer" + std::to_string(l) + ".");
  return p;
}

bool starts_with_any(const std::string& name, const std::vector<std::string>& prefixes) {
  for (auto& p : prefixes)
    if (name.rfind(p, 0) == 0) return true;
  return false;
}

class TTTFlow final : public s4t::TTTMethod {
 public:
  explicit TTTFlow(Settings s) : s_(std::move(s)) {}

  void attach(s4t::MultiTaskModel& model) override {
    const auto& channels = model.feature_info().stage_channels;
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

  bool has_source_objective() const override { return false; }
  bool has_post_training() const override { return true; }

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
      s4t::logger()->debug("tttflow: flow epoch {}/{}: NLL {:.4f}", epoch + 1, s_.flow_epochs, last_epoch);
    }
    s4t::logger()->info("tttflow: flow trained for {} iterations on source stage-{} features; NLL per element "
                        "{:.4f} (first step) -> {:.4f} (mean of the last epoch){}",
                        it, s_.stage, first_step, last_epoch,
                        skipped ? fmt::format(", {} non-finite steps skipped", skipped) : std::string());
    flow_->eval();
    root.train(was_training);
  }

  s4t::AdaptationPolicy adaptation_policy(s4t::MultiTaskModel&) override {
    s4t::AdaptationPolicy p;
    auto prefixes = encoder_prefixes(s_.stage);
    p.selects = [prefixes](const std::string& name) { return starts_with_any(name, prefixes); };
    p.adapt_norm = s_.adapt_norm;
    p.predict_norm = s_.predict_norm;
    p.optimizer = s_.optimizer;
    return p;
  }

  at::Tensor adaptation_loss(s4t::MultiTaskModel& model, const at::Tensor& images, const s4t::AdaptContext&) override {
    flow_->eval();  // the flow is frozen: running statistics of its BatchNorms, no ActNorm initialisation
    if (s_.freeze_later_norm) freeze_later_stages(model);
    return flow_->nll(stage_features(model, images, /*grad=*/true));
  }

 private:
  at::Tensor stage_features(s4t::MultiTaskModel& model, const at::Tensor& images, bool grad) {
    s4t::ForwardOptions fo;
    fo.stages_only = true;
    if (grad) return model.features(images, fo).stages.at(static_cast<size_t>(s_.stage));
    at::NoGradGuard no_grad;
    return model.features(images, fo).stages.at(static_cast<size_t>(s_.stage)).detach();
  }

  /// The original runs only the extractor up to layer2 at test time, so later BatchNorms neither see the
  /// target batch nor update their statistics. The SDK's forward always runs every stage, so the stages
  /// after the flow's are put in eval mode for the adaptation pass (their output is not used).
  void freeze_later_stages(s4t::MultiTaskModel& model) {
    if (later_.empty()) {
      std::vector<std::string> names;
      for (std::int64_t l = s_.stage + 2; l <= 8; ++l) names.push_back("backbone.layer" + std::to_string(l));
      for (auto& item : model.root().named_modules("", /*include_self=*/false))
        for (auto& n : names)
          if (item.key() == n) later_.push_back(item.value());
      if (later_.empty()) later_.push_back(nullptr);  // nothing to freeze: remember that
    }
    for (auto& m : later_)
      if (m) m->eval();
  }

  Settings s_;
  RealNVP flow_{nullptr};
  std::vector<std::shared_ptr<torch::nn::Module>> later_;
};

const char* kDoc =
    "TTTFlow (Osowiechi et al., WACV 2023) on the shared multi-task network (METHODS.md 2.5).\n"
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
    "Source: no change to source training (has_source_objective = false): the shared base checkpoint is "
    "reused. Post-training: the network is frozen (eval mode, features computed without gradient) and only the "
    "flow is trained by maximum likelihood, L = -mean over elements of [log N(z; 0, 1) + log|det|], with SGD "
    "`flow_lr` 0.1, momentum 0.9, weight decay 5e-4 and a cosine schedule (the paper's settings) for "
    "`flow_epochs` passes over the host's post-training stream ([train] post_training_batches). "
    "`flow_grad_clip` (default 100, not in the paper) clips the gradient norm, and non-finite steps are "
    "skipped, so a diverging step cannot ruin the flow.\n"
    "Test: the same NLL of the target batch's features; the flow is frozen and in eval mode. Adapted "
    "parameters: the encoder up to the flow's stage (conv1, bn1, layer1, layer2 by default), as in the paper; "
    "[RECON] task heads and later stages are not adapted (the flow's input depends only on the adapted "
    "stages). BatchNorm: "
    "batch statistics with running-statistics updates in the adapted stages; with `freeze_later_norm` "
    "(default) the later stages run in eval mode during the adaptation pass, as in the original, where they are "
    "not run at all. Prediction uses running statistics.\n"
    "Optimizer: SGD lr 1e-3, momentum 0.9, weight decay 5e-4 (paper); the paper's 10 steps per batch with "
    "reset are host protocol settings.";

void register_tttflow(s4t::Registrar& r) {
  s4t::ComponentInfo info;
  info.name = "tttflow";
  info.version = "1.0.0";
  info.summary = "TTTFlow: RealNVP flow on layer2 features trained after source training; NLL at test time";
  info.doc = kDoc;
  info.schema.add_int("stage", 1, "backbone stage the flow models (0 = C2/layer1, 1 = C3/layer2, ...)", 0, 7)
      .add_int("hidden", 0, "width of the coupling ResModules (0 = the stage's channels)", 0, 65536)
      .add_int("res_blocks", 2, "residual blocks per ResModule", 0, 64)
      .add_bool("bottleneck", true, "bottleneck residual blocks (1x1, 3x3, 1x1) instead of two 3x3 convs")
      .add_int("flow_epochs", 1, "passes over the post-training stream to train the flow", 1, 100000)
      .add_float("flow_lr", 0.1, "SGD learning rate of the flow's maximum-likelihood training", 0.0)
      .add_float("flow_momentum", 0.9, "SGD momentum of the flow training", 0.0, 1.0)
      .add_float("flow_weight_decay", 5e-4, "weight decay of the flow training", 0.0)
      .add_bool("flow_cosine", true, "cosine learning-rate schedule for the flow training")
      .add_float("flow_grad_clip", 100.0, "clip the flow's gradient norm to this (0 = off)", 0.0)
      .add_bool("freeze_later_norm", true, "BatchNorms after the flow's stage stay in eval mode while adapting")
      .add_string("adapt_norm", "train_update", "BatchNorm during adaptation", {"train_update", "train_frozen", "eval"})
      .add_string("predict_norm", "eval", "BatchNorm when predicting", {"train_update", "train_frozen", "eval"});
  s4t::OptimizerSpec opt;
  opt.name = "sgd";
  opt.lr = 1e-3;
  opt.momentum = 0.9;
  opt.weight_decay = 5e-4;
  s4t::add_optimizer_options(info.schema, opt);
  r.add_method(info, [](const s4t::BuildContext&, const s4t::Options& o) {
    Settings s;
    s.stage = o.get_int("stage");
    s.hidden = o.get_int("hidden");
    s.blocks = o.get_int("res_blocks");
    s.bottleneck = o.get_bool("bottleneck");
    s.flow_epochs = o.get_int("flow_epochs");
    s.flow_lr = o.get_float("flow_lr");
    s.flow_momentum = o.get_float("flow_momentum");
    s.flow_weight_decay = o.get_float("flow_weight_decay");
    s.flow_cosine = o.get_bool("flow_cosine");
    s.flow_grad_clip = o.get_float("flow_grad_clip");
    s.freeze_later_norm = o.get_bool("freeze_later_norm");
    s.adapt_norm = s4t::norm_mode_from_string(o.get_string("adapt_norm"));
    s.predict_norm = s4t::norm_mode_from_string(o.get_string("predict_norm"));
    s.optimizer = s4t::optimizer_from(o);
    return std::make_shared<TTTFlow>(s);
  });
}

}  // namespace

S4T_PLUGIN("s4t.tttflow", "1.0.0", register_tttflow)
