#pragma once
// The `resnet` backbone component: stages C2..C5 and the S4T fused map (docs/methods.md#base-network:
// every stage resized bilinearly to (train H/4, train W/4) and concatenated).
#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "resnet_modules.hpp"
#include "s4t/backbone.hpp"
#include "s4t/context.hpp"
#include "s4t/option_binding.hpp"

namespace s4t::resnet {

/// [backbone.resnet] as read from TOML.
struct ResNetSettings {
  std::int64_t depth = 50;
  std::int64_t width = 64;
  bool dilate_layer3 = false;
  bool dilate_layer4 = false;
  double bn_momentum = 0.1;
  bool fused = true;
  std::string pretrained;
};

/// The options of [backbone.resnet].
const Binding<ResNetSettings>& resnet_binding();

class ResNetBackbone final : public Backbone {
 public:
  ResNetBackbone(const BuildContext& ctx, const ResNetSettings& settings);
  std::shared_ptr<torch::nn::Module> module() override { return net_.ptr(); }
  FeatureInfo info() const override { return info_; }
  Features forward(const at::Tensor& images, const ForwardOptions& options) override;

 private:
  ResNet net_{nullptr};
  FeatureInfo info_;
  bool fused_ = true;
};

}  // namespace s4t::resnet
