// A complete backbone plugin: "tiny_cnn". A plain CNN of four stages (3x3 conv + BatchNorm + ReLU, each
// halving the resolution after a stride-2 stem), so the stages come at strides 4, 8, 16, 32 like a
// ResNet's C2..C5, plus the fused map the template's head reads: every stage resized to (train H/4,
// train W/4) and concatenated.
//
// What every backbone publishes and honours:
// - FeatureInfo::stages: channels, stride and the parameter-name prefixes (relative to module()) of
//   the parameters that compute each stage and no earlier one; methods address the encoder only through
//   these (s4t::encoder_prefixes_up_to), never by guessing names.
// - ForwardOptions: record_norm_outputs (every normalisation output, in forward order), stages_only (no
//   fused map) and stop_after_stage (compute stages 0..k and return).
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>

#include <memory>
#include <string>
#include <vector>

#include <s4t/backbone.hpp>
#include <s4t/error.hpp>
#include <s4t/option_binding.hpp>
#include <s4t/plugin.hpp>
#include <s4t/tensor_ops.hpp>

namespace {

struct Settings {
  std::int64_t width = 16;
  bool fused = true;
};

const s4t::Binding<Settings>& binding() {
  static const auto b =
      s4t::Binding<Settings>()
          .integer("width", &Settings::width, 16, "channels of the first stage (doubled per stage)", 1, 1024)
          .flag("fused", &Settings::fused, true, "compute the fused map (stages at train size / 4)");
  return b;
}

// 3x3 conv (no bias) + BatchNorm + ReLU; children "conv" and "bn".
struct ConvBnImpl : torch::nn::Module {
  ConvBnImpl(std::int64_t in, std::int64_t out, std::int64_t stride) {
    conv = register_module(
        "conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)));
    bn = register_module("bn", torch::nn::BatchNorm2d(out));
  }
  at::Tensor forward(const at::Tensor& x, std::vector<at::Tensor>* norm_outputs) {
    auto y = bn->forward(conv->forward(x));
    if (norm_outputs) norm_outputs->push_back(y);
    return y.relu();
  }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
};
TORCH_MODULE(ConvBn);

// Parameter names: stem.conv.weight, stem.bn.weight, stage0.conv.weight ... stage3.bn.bias.
struct TinyCnnImpl : torch::nn::Module {
  explicit TinyCnnImpl(std::int64_t width) {
    stem = register_module("stem", ConvBn(3, width, 2));
    std::int64_t in = width;
    for (int k = 0; k < 4; ++k) {
      const std::int64_t out = width << k;
      stages.push_back(register_module("stage" + std::to_string(k), ConvBn(in, out, 2)));
      in = out;
    }
  }
  ConvBn stem{nullptr};
  std::vector<ConvBn> stages;
};
TORCH_MODULE(TinyCnn);

class TinyCnnBackbone final : public s4t::Backbone {
 public:
  TinyCnnBackbone(const s4t::BuildContext& ctx, const Settings& s) : net_(s.width), fused_(s.fused) {
    for (int k = 0; k < 4; ++k) {
      s4t::StageInfo stage;
      stage.name = "C" + std::to_string(k + 2);
      stage.channels = s.width << k;
      stage.stride = std::int64_t{4} << k;
      if (k == 0) stage.parameter_prefixes.push_back("stem.");  // the stem computes stage 0 only
      stage.parameter_prefixes.push_back("stage" + std::to_string(k) + ".");
      info_.stages.push_back(stage);
    }
    if (fused_) {
      if (ctx.train_size[0] <= 0 || ctx.train_size[1] <= 0)
        throw s4t::ConfigError("tiny_cnn: the fused map needs the training image size");
      for (auto& stage : info_.stages) info_.fused_channels += stage.channels;
      info_.fused_size = {ctx.train_size[0] / 4, ctx.train_size[1] / 4};
    }
  }

  std::shared_ptr<torch::nn::Module> module() override { return net_.ptr(); }
  s4t::FeatureInfo info() const override { return info_; }

  s4t::Features forward(const at::Tensor& images, const s4t::ForwardOptions& options) override {
    s4t::Features f;
    auto* norms = options.record_norm_outputs ? &f.norm_outputs : nullptr;
    auto x = net_->stem->forward(images, norms);
    for (std::size_t k = 0; k < net_->stages.size(); ++k) {
      if (!options.needs_stage(static_cast<std::int64_t>(k))) return f;
      x = net_->stages[k]->forward(x, norms);
      f.stages.push_back(x);
    }
    if (fused_ && options.needs_decoder()) {
      std::vector<at::Tensor> resized;
      for (auto& s : f.stages) resized.push_back(s4t::resize_bilinear(s, info_.fused_size));
      f.fused = at::cat(resized, 1);
    }
    return f;
  }

 private:
  TinyCnn net_;
  s4t::FeatureInfo info_;
  bool fused_;
};

void register_components(s4t::Registrar& registrar) {
  s4t::ComponentInfo info;
  info.name = "tiny_cnn";
  info.summary = "plain 4-stage CNN (strides 4..32) with a fused map";
  info.doc = "Example third-party backbone from examples/plugin_template. Stage prefixes: stem. and stage0. "
             "for C2, stage1. .. stage3. for C3..C5.";
  info.schema = binding().schema();
  registrar.add_backbone(info, [](const s4t::BuildContext& ctx, const s4t::Options& o) {
    return std::make_shared<TinyCnnBackbone>(ctx, binding().read(o));
  });
}

}  // namespace

S4T_PLUGIN("example.tiny_cnn", "1.0.0", register_components)
