#pragma once
// The `resnet` backbone component: stages C2..C5 and the S4T fused map (METHODS.md §1.2: every stage
// resized bilinearly to (train H/4, train W/4) and concatenated).
#include <array>
#include <memory>

#include "resnet_modules.hpp"
#include "s4t/backbone.hpp"
#include "s4t/context.hpp"
#include "s4t/options.hpp"

namespace s4t::resnet {

class ResNetBackbone final : public Backbone {
 public:
  ResNetBackbone(const BuildContext& ctx, const Options& options);
  std::shared_ptr<torch::nn::Module> module() override { return net_.ptr(); }
  FeatureInfo info() const override { return info_; }
  Features forward(const at::Tensor& images, const ForwardOptions& options) override;

 private:
  ResNet net_{nullptr};
  FeatureInfo info_;
  bool fused_ = true;
};

Schema resnet_schema();

}  // namespace s4t::resnet
