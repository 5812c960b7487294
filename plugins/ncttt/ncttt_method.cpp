// NC-TTT (Osowiechi et al., CVPR 2024; docs/methods.md#ncttt): noise-contrastive test-time training. A 1×1
// projector and a tiny per-location discriminator on a backbone stage learn, at source time, to tell
// strongly (σ1) from weakly (σ2) noised projected features with Bayes-posterior soft labels; at test
// time the encoder up to that stage is adapted so that clean target features look "weakly noised".
//
// Multi-task adaptation [RECON]: the module sits on one stage of the shared backbone (default C2, the
// ResNet layer1 output), so it is task-agnostic; the source objective adds the noise-contrastive loss
// to the weighted multi-task loss.
#include <ATen/ATen.h>
#include <torch/nn/init.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "s4t/error.hpp"
#include "s4t/losses.hpp"
#include "s4t/method.hpp"
#include "s4t/optimizer.hpp"
#include "s4t/option_binding.hpp"
#include "s4t/parameter_selection.hpp"
#include "s4t/plugin.hpp"

namespace {

struct Settings {
  std::int64_t layer;  // 1-based stage (1 = C2)
  std::int64_t embed_dim, disc_hidden;
  double std1, std2, weight;
  bool detach_features;
  bool disc_batch_stats;                    // discriminator_bn = "batch"
  std::vector<std::string> adapt_prefixes;  // empty: the encoder up to `layer`
  bool early_exit;
  s4t::OptimizerSpec optimizer;
};

s4t::OptimizerSpec optimizer_defaults() {  // Adam lr 1e-5 (paper/README)
  s4t::OptimizerSpec d;
  d.name = "adam";
  d.lr = 1e-5;
  d.beta1 = 0.9;
  d.beta2 = 0.999;
  return d;
}

const s4t::Binding<Settings>& binding() {
  using S = Settings;
  static const auto b =
      s4t::Binding<S>()
          .integer("layer", &S::layer, 1, "backbone stage of the module: 1 = C2 (layer1) ... 4 = C5 (layer4)", 1, 4)
          .integer("embed_dim", &S::embed_dim, 1376, "projector output channels E", 1, 65536)
          .integer("disc_hidden", &S::disc_hidden, 4, "hidden channels of the discriminator", 1, 4096)
          .real("std1", &S::std1, 0.1, "std of the strong noise (label 1); 0: clean features labelled 0", 0.0)
          .real("std2", &S::std2, 0.015, "std of the weak noise", 1e-9)
          .real("weight", &S::weight, 1.0, "weight of the noise-contrastive loss in the source objective", 0.0)
          .flag("detach_features", &S::detach_features, false,
                "source time: stop the noise-contrastive gradient at the backbone")
          .choice("discriminator_bn", &S::disc_batch_stats, "batch", {{"batch", true}, {"source", false}},
                  "discriminator BatchNorm during adaptation: batch statistics (released code) or source running "
                  "statistics")
          .texts("adapt_prefixes", &S::adapt_prefixes, {},
                 "parameter-name prefixes adapted at test time; empty = ResNet conv1, bn1, layer1..L")
          .flag("early_exit", &S::early_exit, false,
                "the adaptation forward stops after the module's stage (faster; later BatchNorms keep source "
                "statistics) instead of running every stage as the released code")
          .group(&S::optimizer, s4t::optimizer_binding(optimizer_defaults()))
          .then([](S& s, const s4t::Options&) {
            if (s.std2 <= 0.0) throw s4t::ConfigError("[method.ncttt] std2 must be positive");
            if (s.std1 != 0.0 && s.std1 <= s.std2)
              throw s4t::ConfigError(
                  "[method.ncttt] std1 must be 0 or larger than std2 (std1 labels the strongly noised class)");
          });
  return b;
}

/// Projector (1×1 conv C→E, bias) + discriminator (1×1 conv E→hidden, BatchNorm, LeakyReLU(0.2),
/// 1×1 conv hidden→1), as NC-TTT's generic (per-location) SimpleNet head. Xavier-normal conv weights.
class NcTttHeadImpl : public torch::nn::Module {
 public:
  NcTttHeadImpl(std::int64_t in_channels, std::int64_t embed_dim, std::int64_t hidden) : torch::nn::Module("NcTttHead") {
    projector = register_module("projector", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, embed_dim, 1)));
    disc_hidden = register_module("disc_hidden", torch::nn::Conv2d(torch::nn::Conv2dOptions(embed_dim, hidden, 1)));
    disc_bn = register_module("disc_bn", torch::nn::BatchNorm2d(hidden));
    disc_out = register_module("disc_out", torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, 1, 1)));
    for (auto* conv : {&projector, &disc_hidden, &disc_out}) torch::nn::init::xavier_normal_((*conv)->weight);
  }
  at::Tensor project(const at::Tensor& features) { return projector->forward(features); }
  /// Discriminator logits, N×h×w (positive: "strongly noised").
  at::Tensor discriminate(const at::Tensor& x) {
    auto h = at::leaky_relu(disc_bn->forward(disc_hidden->forward(x)), 0.2);
    return disc_out->forward(h).squeeze(1);
  }

  torch::nn::Conv2d projector{nullptr}, disc_hidden{nullptr}, disc_out{nullptr};
  torch::nn::BatchNorm2d disc_bn{nullptr};
};
TORCH_MODULE(NcTttHead);

class NcTtt final : public s4t::TTTMethod {
 public:
  explicit NcTtt(Settings s) : s_(std::move(s)) {}

  void attach(s4t::MultiTaskModel& model) override {
    const auto channels = model.feature_info().stage_channels();
    if (s_.layer < 1 || s_.layer > static_cast<std::int64_t>(channels.size()))
      throw s4t::ConfigError("[method.ncttt] layer " + std::to_string(s_.layer) + ": the backbone has stages 1.." +
                             std::to_string(channels.size()));
    head_ = NcTttHead(channels[static_cast<size_t>(s_.layer - 1)], s_.embed_dim, s_.disc_hidden);
  }

  std::shared_ptr<torch::nn::Module> module() override { return head_ ? head_.ptr() : nullptr; }

  at::Tensor source_objective(s4t::MultiTaskModel& model, const s4t::Batch&, const s4t::ModelOutput& output,
                              const std::map<std::string, at::Tensor>& main_losses) override {
    auto main = s4t::weighted_sum(model.tasks(), main_losses);
    if (s_.weight == 0.0) return main;
    return main.add(noise_contrastive_loss(stage(output.features)).mul(s_.weight));
  }

  /// BCE of the discriminator on σ1- and σ2-noised projected features against the Bayes posterior that
  /// the noise came from N(0, σ1² I): Y = sigmoid(0.5 (1/σ2² − 1/σ1²) ‖n‖² − E log(σ1/σ2)) per location
  /// (E = embedding width), values below 1e-6 set to 0. Noise is drawn independently for every sample,
  /// location and channel (the intended version; the released code's [QUIRK] summed the batch's draws).
  at::Tensor noise_contrastive_loss(const at::Tensor& features) {
    auto f = head_->project(s_.detach_features ? features.detach() : features);
    auto n2 = at::randn_like(f).mul(s_.std2);
    at::Tensor x1, n1, y;
    const auto label_shape = std::vector<std::int64_t>{f.size(0), f.size(2), f.size(3)};
    if (s_.std1 == 0.0) {  // clean vs noised: X1 = f labelled 0, X2 = f + N2 labelled 1
      x1 = f;
      y = at::cat({at::zeros(label_shape, f.options()), at::ones(label_shape, f.options())}, 0);
    } else {
      n1 = at::randn_like(f).mul(s_.std1);
      x1 = f.add(n1);
      auto noise = at::cat({n1, n2}, 0);
      const double a = 0.5 * (1.0 / (s_.std2 * s_.std2) - 1.0 / (s_.std1 * s_.std1));
      const double b = static_cast<double>(f.size(1)) * std::log(s_.std1 / s_.std2);
      y = at::sigmoid(noise.pow(2).sum(1).mul(a).sub(b));
      y = at::where(y.lt(1e-6), at::zeros_like(y), y);
    }
    auto x = at::cat({x1, f.add(n2)}, 0);
    return at::binary_cross_entropy_with_logits(head_->discriminate(x), y.detach());
  }

  s4t::AdaptationPolicy adaptation_policy(s4t::MultiTaskModel& model) override {
    s4t::AdaptationPolicy p;
    // The encoder up to the module's stage; projector and discriminator stay frozen.
    p.selects = s4t::select_prefixes(
        s_.adapt_prefixes.empty() ? s4t::encoder_prefixes_up_to(model.feature_info(), s_.layer - 1, "[method.ncttt]")
                                  : s_.adapt_prefixes);
    // NC-TTT adapts in train mode (batch statistics, running statistics updated) and predicts in eval mode.
    p.adapt_norm = s4t::NormMode::TrainUpdate;
    p.predict_norm = s4t::NormMode::Eval;
    p.optimizer = s_.optimizer;
    return p;
  }

  /// BCE(sigmoid(−disc(f)), 1) = mean softplus(disc(f)) on clean projected target features.
  at::Tensor adaptation_loss(s4t::MultiTaskModel& model, const at::Tensor& images, const s4t::AdaptContext&) override {
    if (!head_) throw s4t::PluginError("ncttt: used before attach()");
    if (!s_.disc_batch_stats) head_->disc_bn->eval();
    s4t::ForwardOptions fo;
    fo.stages_only = true;
    if (s_.early_exit) fo.stop_after_stage = s_.layer - 1;  // later stages are not read
    auto features = model.features(images, fo);
    return at::softplus(head_->discriminate(head_->project(stage(features)))).mean();
  }

 private:
  const at::Tensor& stage(const s4t::Features& f) const {
    if (static_cast<std::int64_t>(f.stages.size()) < s_.layer)
      throw s4t::PluginError("ncttt: the backbone returned " + std::to_string(f.stages.size()) +
                             " stages; layer " + std::to_string(s_.layer) + " is missing");
    return f.stages[static_cast<size_t>(s_.layer - 1)];
  }

  Settings s_;
  NcTttHead head_{nullptr};
};

void register_ncttt(s4t::Registrar& r) {
  s4t::ComponentInfo info;
  info.name = "ncttt";
  info.summary = "NC-TTT: noise-contrastive discriminator on a backbone stage; adapt the encoder up to it";
  info.doc =
      "NC-TTT (Osowiechi et al., CVPR 2024; docs/methods.md#ncttt). Trained jointly with the network at source "
      "time (own source checkpoint).\n"
      "Module on backbone stage `layer` (1 = C2 = ResNet layer1 output, the paper's default; 2..4 = C3..C5): "
      "projector 1x1 conv C_L -> E (`embed_dim`, bias) and a per-location discriminator 1x1 conv E -> 4 "
      "(`disc_hidden`), BatchNorm, LeakyReLU(0.2), 1x1 conv 4 -> 1; xavier-normal conv weights. E = 1376 "
      "(default, [RECON]) is chosen so that with ResNet-50 (C2 = 256 channels) the module adds "
      "261*E + 17 = 359,153 parameters, i.e. 23,554,124 + 359,153 = 23.91 M as supplement Table 6 (+0.36 M); "
      "the original VisDA setting is E = 1536.\n"
      "Source loss: sum_t w_t L_t + `weight` * L_NC. L_NC: f = projector(stage features) (gradient reaches the "
      "backbone unless `detach_features`); X1 = f + N1, N1 ~ N(0, std1^2 I), X2 = f + N2, N2 ~ N(0, std2^2 I), "
      "drawn independently per sample, location and channel (the intended version, not the released code's "
      "[QUIRK] that gives every sample the sum of the batch's draws); soft label per location = Bayes posterior "
      "of the std1 component, Y = sigmoid(0.5 (1/std2^2 - 1/std1^2) ||N||^2 - E log(std1/std2)), Y < 1e-6 -> 0; "
      "L_NC = BCE(sigmoid(disc(X)), Y) averaged over both groups and all locations. std1 = 0: X1 = f labelled 0, "
      "X2 labelled 1.\n"
      "Test loss: BCE(sigmoid(-disc(f)), 1) = mean softplus(disc(f)) on the clean projected target features: "
      "pushes target features towards the 'weakly noised' side, i.e. close to the source feature manifold.\n"
      "Updated parameters: the encoder up to the module's stage (the parameters the backbone publishes for "
      "its stages up to `layer`; ResNet: conv1, bn1, layer1..layer<L>; `adapt_prefixes` overrides); projector and "
      "discriminator frozen; heads unchanged. BatchNorm: adaptation in train mode (batch statistics, running "
      "statistics updated: train_update), prediction in eval mode, as the released code, which runs every "
      "stage in train mode while adapting (default), so the later stages' running statistics follow the target "
      "batches too. `early_exit = true` stops the adaptation forward after the module's stage: the later "
      "stages, which the loss does not read, are not computed (faster) and their BatchNorms keep their source "
      "running statistics, which changes the predictions. `discriminator_bn`: \"batch\" (default, released code: the "
      "discriminator's BatchNorm also normalises with the test batch's statistics) or \"source\" (its source "
      "running statistics).\n"
      "Optimizer: Adam lr 1e-5 (the paper/README setting; the released adapt.py re-creates the optimizer from "
      "the source-optimizer flag, effectively SGD 1e-5 — a [QUIRK] not copied). NC-TTT: up to 50 steps per "
      "batch, reset per batch (episodic).";
  info.schema = binding().schema();
  s4t::add_method<NcTtt>(r, info, [](const s4t::BuildContext&, const s4t::Options& o) {
    return std::make_shared<NcTtt>(binding().read(o));
  });
}

}  // namespace

S4T_PLUGIN("s4t.ncttt", "1.0.0", register_ncttt)
