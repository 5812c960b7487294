// ClusT3 (Hakim et al., ICCV 2023) on the shared multi-task network (docs/methods.md#clust3): several
// 1x1 "cluster projectors" per backbone stage map each location's feature to K cluster logits; the
// mutual information between features and cluster assignments is maximised jointly with the tasks at
// source time and alone at test time, where it updates the encoder up to the deepest projected stage.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>

#include <algorithm>
#include <cmath>
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

enum class Marginal { MutualInformation, ReleasedCode };

struct Settings {
  std::vector<std::int64_t> layers;  // 1-based ResNet layers (stage index + 1)
  std::int64_t projectors, clusters;
  double weight;
  Marginal marginal;
  std::int64_t adapt_up_to;  // 0: the deepest projected layer
  bool early_exit;
  s4t::NormModes norm;
  s4t::OptimizerSpec optimizer;
};

s4t::OptimizerSpec optimizer_defaults() {  // Adam lr 1e-5 (paper)
  s4t::OptimizerSpec d;
  d.name = "adam";
  d.lr = 1e-5;
  return d;
}

const s4t::Binding<Settings>& binding() {
  using S = Settings;
  static const auto b =
      s4t::Binding<S>()
          .integers("layers", &S::layers, {1, 2}, "ResNet layers (1-based stages) that carry projectors", 1, 8)
          .integer("projectors", &S::projectors, 15, "projectors per layer", 1, 1024)
          .integer("clusters", &S::clusters, 10, "clusters K per projector", 2, 4096)
          .real("weight", &S::weight, 1.0, "lambda: weight of the clustering loss in the source objective", 0.0)
          .choice("marginal", &S::marginal, "mutual_information",
                  {{"mutual_information", Marginal::MutualInformation}, {"released_code", Marginal::ReleasedCode}},
                  "diversity term: the paper's -H(Z), or the released code's KL")
          .integer("adapt_up_to", &S::adapt_up_to, 0, "adapt conv1..layer<N> (0 = the deepest projected layer)", 0, 8)
          .flag("early_exit", &S::early_exit, false,
                "the adaptation forward stops after the deepest projected layer (faster; later BatchNorms keep "
                "source statistics) instead of running every stage as the released code")
          .group(&S::norm, s4t::norm_modes_binding({s4t::NormMode::TrainUpdate, s4t::NormMode::Eval}))
          .group(&S::optimizer, s4t::optimizer_binding(optimizer_defaults()))
          .then([](S& s, const s4t::Options&) {
            if (s.layers.empty()) throw s4t::ConfigError("clust3: `layers` must name at least one layer");
            auto sorted = s.layers;
            std::sort(sorted.begin(), sorted.end());
            if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
              throw s4t::ConfigError("clust3: `layers` names a layer twice");
          });
  return b;
}

/// The projectors of every chosen layer. The P projectors of one layer (each a 1x1 conv C -> K with
/// bias, as in the released code) are stored as one 1x1 conv C -> P·K: the same parameters and the same
/// initialisation distribution, one matrix product instead of P.
class ProjectorsImpl : public torch::nn::Module {
 public:
  ProjectorsImpl(const std::vector<std::pair<std::int64_t, std::int64_t>>& layer_channels, std::int64_t projectors,
                 std::int64_t clusters) {
    for (auto& [layer, channels] : layer_channels) {
      convs.push_back(register_module(
          "layer" + std::to_string(layer),
          torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, projectors * clusters, 1).bias(true))));
    }
  }
  std::vector<torch::nn::Conv2d> convs;
};
TORCH_MODULE(Projectors);

class ClusT3 final : public s4t::TTTMethod {
 public:
  explicit ClusT3(Settings s) : s_(std::move(s)) {}

  void attach(s4t::MultiTaskModel& model) override {
    const auto channels = model.feature_info().stage_channels();
    std::vector<std::pair<std::int64_t, std::int64_t>> lc;
    for (auto l : s_.layers) {
      if (l < 1 || l > static_cast<std::int64_t>(channels.size()))
        throw s4t::PluginError("clust3: layer " + std::to_string(l) + " does not exist; the backbone has " +
                               std::to_string(channels.size()) + " stages");
      lc.emplace_back(l, channels[static_cast<size_t>(l - 1)]);
    }
    projectors_ = Projectors(lc, s_.projectors, s_.clusters);
  }
  std::shared_ptr<torch::nn::Module> module() override { return projectors_.ptr(); }

  at::Tensor source_objective(s4t::MultiTaskModel& model, const s4t::Batch&, const s4t::ModelOutput& output,
                              const std::map<std::string, at::Tensor>& main_losses) override {
    at::Tensor total = s4t::weighted_sum(model.tasks(), main_losses);
    if (s_.weight == 0.0) return total;
    return total + s_.weight * clustering_loss(output.features);
  }

  s4t::AdaptationPolicy adaptation_policy(s4t::MultiTaskModel& model) override {
    const std::int64_t up_to = s_.adapt_up_to > 0 ? s_.adapt_up_to : deepest_layer();
    s4t::AdaptationPolicy p;
    p.selects = s4t::select_prefixes(s4t::encoder_prefixes_up_to(model.feature_info(), up_to - 1, "[method.clust3]"));
    p.adapt_norm = s_.norm.adapt;
    p.predict_norm = s_.norm.predict;
    p.optimizer = s_.optimizer;
    return p;
  }

  at::Tensor adaptation_loss(s4t::MultiTaskModel& model, const at::Tensor& images, const s4t::AdaptContext&) override {
    s4t::ForwardOptions fo;
    fo.stages_only = true;
    if (s_.early_exit) fo.stop_after_stage = deepest_layer() - 1;  // later stages feed no projector
    return clustering_loss(model.features(images, fo));
  }

 private:
  std::int64_t deepest_layer() const { return *std::max_element(s_.layers.begin(), s_.layers.end()); }

  /// Σ over projectors j of [H(Z_j | X) + marginal term], over all locations of all images.
  at::Tensor clustering_loss(const s4t::Features& f) {
    at::Tensor total;
    const std::int64_t P = s_.projectors, K = s_.clusters;
    for (size_t i = 0; i < s_.layers.size(); ++i) {
      const at::Tensor& x = f.stages.at(static_cast<size_t>(s_.layers[i] - 1));
      at::Tensor z = projectors_->convs[i]->forward(x);  // N × P·K × h × w
      const auto n = z.size(0), h = z.size(2), w = z.size(3);
      // [QUIRK fixed] N×P×K×h×w -> P×K×(N·h·w) with a permute (the released code's raw view of N×K×h×w
      // as K×(N·h·w) mixes images and clusters whenever N > 1).
      z = z.view({n, P, K, h, w}).permute({1, 2, 0, 3, 4}).reshape({P, K, n * h * w});
      at::Tensor log_p = at::log_softmax(z, 1);
      at::Tensor p = log_p.exp();
      at::Tensor conditional = -(p * log_p).sum(1).mean(1);  // P: mean entropy of each location's assignment
      at::Tensor marginal;
      if (s_.marginal == Marginal::MutualInformation) {
        at::Tensor pbar = p.mean(2);                                   // P × K: cluster marginal
        marginal = (pbar * at::log(pbar.clamp_min(1e-12))).sum(1);     // −H(Z_j)
      } else {
        // Released code: KL(U_K || softmax(mean logits)) with 'batchmean' on a K-vector, i.e. divided by K.
        at::Tensor log_q = at::log_softmax(z.mean(2), 1);              // P × K
        marginal = ((1.0 / static_cast<double>(K)) * (-std::log(static_cast<double>(K)) - log_q)).sum(1) /
                   static_cast<double>(K);
      }
      at::Tensor layer = (conditional + marginal).sum();
      total = total.defined() ? total + layer : layer;
    }
    return total;
  }

  Settings s_;
  Projectors projectors_{nullptr};
};

const char* kDoc =
    "ClusT3 (Hakim et al., ICCV 2023) on the shared multi-task network (docs/methods.md#clust3).\n"
    "Module: `projectors` (15) cluster projectors per backbone layer in `layers` (default [1, 2]: ResNet layer1 "
    "and layer2 = C2, C3, the paper's best CIFAR configuration), each a 1x1 conv C -> `clusters` (K = 10) "
    "with bias, giving K cluster logits per location. With ResNet-50 that is 15 x (256*10 + 10) + "
    "15 x (512*10 + 10) = 115,500 parameters: 23,669,624 = 23.67 M in all, 0.34 % above Table 6's 23.59 M; "
    "`layers = [1]` (38,550 parameters, 23,592,674 = 23.59 M) reproduces Table 6 exactly, which suggests the "
    "S4T authors used layer1 only.\n"
    "Loss: for each projector j, over all N*h*w locations of the batch: H(Z_j|X) = mean entropy of the "
    "per-location softmax, plus a diversity term; L = sum_j [H(Z_j|X) + diversity_j]. `marginal = "
    "\"mutual_information\"` (default, the paper's -I(X;Z_j) = H(Z_j|X) - H(Z_j)) uses -H of the mean cluster "
    "probability; \"released_code\" uses the released code's KL(U_K || softmax(mean logits)) / K. [QUIRK "
    "fixed] logits are permuted to (K, N*h*w), not raw-viewed (which mixes images and clusters for N > 1).\n"
    "Source: L = sum_t w_t L_t + `weight` (lambda = 1) * L on the main forward pass's stages (no extra pass).\n"
    "Test: the same L on the target batch; projectors frozen. Adapted parameters [RECON]: the encoder up to "
    "the deepest projected layer (the parameters the backbone publishes for those stages; ResNet: conv1, bn1, "
    "layer1, layer2 by default; `adapt_up_to` overrides). The released code's extract_layer = 3 also lists "
    "layer3, which receives no gradient from layer1/layer2 projectors, so it is equivalent. Task heads are "
    "not adapted. BatchNorm: batch statistics with running-statistics updates while adapting, running "
    "statistics for prediction. By default every stage runs in train mode during adaptation, as the released "
    "code does (it adapts with the whole network in train mode), so the later stages' running statistics "
    "follow the target batches too. `early_exit = true` stops the adaptation forward after the deepest "
    "projected stage: the later stages, whose output no projector reads, are not computed (faster), and "
    "their BatchNorms keep their source running statistics, which changes the predictions.\n"
    "Optimizer: Adam lr 1e-5 (paper). The paper's up to 50-100 steps per batch with reset are host protocol "
    "settings.";

void register_clust3(s4t::Registrar& r) {
  s4t::ComponentInfo info;
  info.name = "clust3";
  info.summary = "ClusT3: 1x1 cluster projectors on layer1/layer2, feature-cluster mutual information";
  info.doc = kDoc;
  info.schema = binding().schema();
  s4t::add_method<ClusT3>(r, info, [](const s4t::BuildContext&, const s4t::Options& o) {
    return std::make_shared<ClusT3>(binding().read(o));
  });
}

}  // namespace

S4T_PLUGIN("s4t.clust3", "1.0.0", register_clust3)
