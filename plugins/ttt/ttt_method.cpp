// TTT (Sun et al., ICML 2020), rotation prediction, adapted to the shared multi-task network
// (docs/methods.md#ttt). A rotation head reads the shared features (by default the fused 3840-channel map
// every task head reads), is trained jointly with the tasks at source time, and at test time the
// backbone is updated so that the head predicts the rotation of rotated copies of the target batch.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "s4t/error.hpp"
#include "s4t/losses.hpp"
#include "s4t/method.hpp"
#include "s4t/norm.hpp"
#include "s4t/option_binding.hpp"
#include "s4t/optimizer.hpp"
#include "s4t/parameter_selection.hpp"
#include "s4t/plugin.hpp"

namespace {

// ---------------------------------------------------------------------------------------------------
// Rotation head: 1x1 conv (C -> hidden, bias) + ReLU + global average pooling + linear (hidden -> 4).
// With C = 3840 (ResNet-50 fused map) and hidden = 1024: 3,937,284 parameters, i.e. 23.55 M + 3.94 M =
// 27.49 M for the whole model, Table 6's TTT row.
class RotationHeadImpl : public torch::nn::Module {
 public:
  RotationHeadImpl(std::int64_t in_channels, std::int64_t hidden) {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, hidden, 1).bias(true)));
    fc = register_module("fc", torch::nn::Linear(hidden, 4));
  }
  /// features N×C×h×w -> rotation logits N×4.
  at::Tensor forward(const at::Tensor& features) { return fc->forward(at::relu(conv->forward(features)).mean({2, 3})); }

  torch::nn::Conv2d conv{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(RotationHead);

enum class Rotations { Rand, Expand };

// Options of [method.ttt]; keys and defaults in binding().
struct Settings {
  double weight;
  bool fused;  // input = "fused"; attach() falls back to the last stage when there is no fused map
  std::int64_t hidden;
  Rotations source_rotations;
  Rotations test_rotations;
  bool crop_non_square;  // false: only half turns (0°, 180°) when H != W
  bool adapt_head;
  s4t::NormModes norm;
  s4t::OptimizerSpec optimizer;
};

const s4t::Binding<Settings>& binding() {
  static const auto b = [] {
    s4t::OptimizerSpec opt;
    opt.name = "sgd";
    opt.lr = 1e-3;
    const std::vector<std::pair<std::string, Rotations>> rotations{{"rand", Rotations::Rand},
                                                                   {"expand", Rotations::Expand}};
    return s4t::Binding<Settings>()
        .real("weight", &Settings::weight, 1.0, "weight of the rotation CE in the source objective", 0.0)
        .choice("input", &Settings::fused, "fused", {{"fused", true}, {"last_stage", false}},
                "features the rotation head reads")
        .integer("hidden", &Settings::hidden, 1024, "channels of the head's 1x1 conv (1024 gives Table 6's 27.49 M)",
                 1, 65536)
        .choice("source_rotations", &Settings::source_rotations, "rand", rotations,
                "rotations per source image: one random turn, or all four")
        .choice("test_rotations", &Settings::test_rotations, "expand", rotations,
                "rotations per target image: one random turn, or all four")
        .choice("non_square", &Settings::crop_non_square, "crop", {{"crop", true}, {"half_turns", false}},
                "H != W: centre-crop to a square, or use only 0/180-degree turns")
        .flag("adapt_head", &Settings::adapt_head, false,
              "also adapt the rotation head at test time (theta_e + theta_s)")
        .group(&Settings::norm, s4t::norm_modes_binding({}))
        .group(&Settings::optimizer, s4t::optimizer_binding(opt));
  }();
  return b;
}

/// Rotated copies of a batch and their rotation labels (k quarter turns, counter-clockwise).
struct RotatedBatch {
  at::Tensor images;
  at::Tensor labels;  // int64, on the images' device
};

class RotationTTT final : public s4t::TTTMethod {
 public:
  RotationTTT(const s4t::BuildContext&, Settings s) : s_(std::move(s)) {}

  void attach(s4t::MultiTaskModel& model) override {
    const auto& info = model.feature_info();
    std::int64_t in = 0;
    if (s_.fused && info.fused_channels > 0) in = info.fused_channels;
    else if (!info.stages.empty()) { in = info.stages.back().channels; s_.fused = false; }
    if (in <= 0) throw s4t::PluginError("ttt: the backbone offers neither a fused map nor stages");
    head_ = RotationHead(in, s_.hidden);
  }
  std::shared_ptr<torch::nn::Module> module() override { return head_.ptr(); }

  at::Tensor source_objective(s4t::MultiTaskModel& model, const s4t::Batch& batch, const s4t::ModelOutput& output,
                              const std::map<std::string, at::Tensor>& main_losses) override {
    at::Tensor total = s4t::weighted_sum(model.tasks(), main_losses);
    if (s_.weight == 0.0) return total;
    return total + s_.weight * rotation_loss(model, batch.images, s_.source_rotations, &output.features);
  }

  s4t::AdaptationPolicy adaptation_policy(s4t::MultiTaskModel&) override {
    s4t::AdaptationPolicy p;
    std::vector<std::string> prefixes{s4t::kBackbonePrefix};
    if (s_.adapt_head) prefixes.push_back(s4t::kMethodPrefix);
    p.selects = s4t::select_prefixes(prefixes);
    p.adapt_norm = s_.norm.adapt;
    p.predict_norm = s_.norm.predict;
    p.optimizer = s_.optimizer;
    return p;
  }

  at::Tensor adaptation_loss(s4t::MultiTaskModel& model, const at::Tensor& images, const s4t::AdaptContext&) override {
    return rotation_loss(model, images, s_.test_rotations, nullptr);
  }

 private:
  at::Tensor head_input(const s4t::Features& f) const { return s_.fused ? f.fused : f.stages.back(); }

  /// CE of the rotation head on rotated copies of `images`. In "expand" mode, `unrotated` (the features
  /// of the images as they are, from the main forward pass) stands in for the 0° copies when given.
  at::Tensor rotation_loss(s4t::MultiTaskModel& model, const at::Tensor& images, Rotations mode,
                           const s4t::Features* unrotated) {
    const bool square = images.size(2) == images.size(3);
    // The 0° copies are the images themselves only when nothing was cropped.
    const bool reuse = mode == Rotations::Expand && unrotated && square && head_input(*unrotated).defined();
    RotatedBatch r = rotate(images, mode, /*skip_zero=*/reuse);
    s4t::ForwardOptions fo;
    fo.stages_only = !s_.fused;
    at::Tensor logits = head_->forward(head_input(model.features(r.images, fo)));
    at::Tensor labels = r.labels;
    if (reuse) {
      logits = at::cat({head_->forward(head_input(*unrotated)), logits}, 0);
      labels = at::cat({at::zeros({images.size(0)}, labels.options()), labels}, 0);
    }
    return at::nll_loss(at::log_softmax(logits, 1), labels);
  }

  /// Quarter turns allowed for this image shape: all four for square images (or after a centre crop to a
  /// square), else only 0° and 180° (a 90° turn would change the shape of a non-square image).
  RotatedBatch rotate(const at::Tensor& images, Rotations mode, bool skip_zero) {
    at::Tensor x = images;
    const std::int64_t h = x.size(2), w = x.size(3);
    std::vector<std::int64_t> allowed{0, 1, 2, 3};
    if (h != w) {
      if (s_.crop_non_square) {
        const std::int64_t side = std::min(h, w);
        x = x.narrow(2, (h - side) / 2, side).narrow(3, (w - side) / 2, side);
      } else {
        allowed = {0, 2};
      }
    }
    const std::int64_t n = x.size(0);
    std::vector<at::Tensor> parts;
    std::vector<std::int64_t> labels;
    if (mode == Rotations::Expand) {
      for (auto k : allowed) {
        if (skip_zero && k == 0) continue;
        parts.push_back(k == 0 ? x : at::rot90(x, k, {2, 3}));
        labels.insert(labels.end(), static_cast<size_t>(n), k);
      }
    } else {
      // One rotation per image from the default CPU generator: the host seeds it per run and saves it in
      // checkpoints, so a resumed source training draws the rotations it would have drawn.
      const at::Tensor picks = at::randint(static_cast<std::int64_t>(allowed.size()), {n}, at::TensorOptions().dtype(at::kLong));
      const auto* pick = picks.data_ptr<std::int64_t>();
      std::vector<std::vector<std::int64_t>> by_k(4);
      for (std::int64_t i = 0; i < n; ++i) by_k[static_cast<size_t>(allowed[static_cast<size_t>(pick[i])])].push_back(i);
      for (std::int64_t k = 0; k < 4; ++k) {
        auto& idx = by_k[static_cast<size_t>(k)];
        if (idx.empty()) continue;
        auto index = at::tensor(idx, at::TensorOptions().dtype(at::kLong)).to(x.device());
        at::Tensor sel = x.index_select(0, index);
        parts.push_back(k == 0 ? sel : at::rot90(sel, k, {2, 3}));
        labels.insert(labels.end(), idx.size(), k);
      }
    }
    RotatedBatch r;
    r.images = at::cat(parts, 0);
    r.labels = at::tensor(labels, at::TensorOptions().dtype(at::kLong)).to(x.device(), /*non_blocking=*/true);
    return r;
  }

  Settings s_;
  RotationHead head_{nullptr};
};

const char* kDoc =
    "TTT (Sun et al., ICML 2020) on the shared multi-task network (docs/methods.md#ttt).\n"
    "Module: a rotation head on the shared features: 1x1 conv (C -> `hidden`, bias) + ReLU + global average "
    "pooling + linear (`hidden` -> 4). By default it reads the fused map (3840 channels for ResNet-50) that "
    "every task head reads, so the rotation task shapes exactly the representation the tasks use; with "
    "`input = \"last_stage\"` it reads C5 instead. With ResNet-50 and hidden 1024 the head has 3,937,284 "
    "parameters: 23,554,124 + 3,937,284 = 27.49 M, Table 6's TTT row (the paper's head design is not "
    "published; this one reproduces its count).\n"
    "Source: L = sum_t w_t L_t + `weight` * CE(head(rot_k(x)), k). `source_rotations = \"rand\"` (the original "
    "default) rotates every image by one random k in {0,90,180,270} and runs one extra forward pass; "
    "\"expand\" uses all four turns (the 0-degree copies reuse the main forward pass).\n"
    "Test: the same rotation CE on rotated copies of the target batch (`test_rotations = \"expand\"`: all four "
    "turns of the 8 images, 32 inputs per step, like the original's 32 rotated augmentations per update; "
    "\"rand\": one random turn each). The original also applies random crop/flip augmentations to each test "
    "image because it adapts on a single image; with a batch of 8 distinct images they are not applied.\n"
    "Non-square images (`non_square`): a 90-degree turn changes an HxW image into WxH. \"crop\" (default) "
    "centre-crops every image to its largest square first and keeps the 4-way task as trained; \"half_turns\" "
    "keeps the whole image and uses only 0 and 180 degrees (labels 0 and 2 of the same 4-way head). Square "
    "images are never cropped.\n"
    "Adapted parameters [RECON]: the shared encoder theta_e = the whole backbone (every stage feeds the fused "
    "map); the rotation head is frozen (the paper's default; `adapt_head = true` adapts theta_e + theta_s); "
    "task heads are never adapted. BatchNorm: batch statistics with running-statistics updates during "
    "adaptation (the released code keeps the extractor in train mode unless --fix_bn), running statistics "
    "for prediction; both overridable (`adapt_norm`, `predict_norm`).\n"
    "Optimizer: SGD lr 1e-3, no momentum (paper/code default). The paper's 1 (fast) / 3 / 10 (slow) steps "
    "per image with reset are protocol settings of the host ([ttt] steps, protocol).";

void register_ttt(s4t::Registrar& r) {
  s4t::ComponentInfo info;
  info.name = "ttt";
  info.summary = "TTT: rotation-prediction head on the shared features, rotation CE at source and test time";
  info.doc = kDoc;
  info.schema = binding().schema();
  s4t::add_method<RotationTTT>(r, info, [](const s4t::BuildContext& ctx, const s4t::Options& o) {
    return std::make_shared<RotationTTT>(ctx, binding().read(o));
  });
}

}  // namespace

S4T_PLUGIN("s4t.ttt", "1.0.0", register_ttt)
