#pragma once
// The `mtinet` backbone component: MTI-Net on a ResNet trunk as one Backbone that predicts every task
// itself (FeatureInfo::provides_predictions), with per-task features and deep supervision.
#include <memory>

#include "mtinet_modules.hpp"
#include "s4t/backbone.hpp"
#include "s4t/context.hpp"
#include "s4t/options.hpp"

namespace s4t::mtinet {

class MTINetBackbone final : public Backbone {
 public:
  MTINetBackbone(const BuildContext& ctx, const Options& options);
  std::shared_ptr<torch::nn::Module> module() override { return net_.ptr(); }
  FeatureInfo info() const override { return info_; }
  Features forward(const at::Tensor& images, const ForwardOptions& options) override;

 private:
  MTINet net_{nullptr};
  FeatureInfo info_;
  bool deep_supervision_ = true;
};

/// Schema of [backbone.mtinet].
Schema mtinet_schema();
/// ComponentInfo::doc of the component.
const char* mtinet_doc();

}  // namespace s4t::mtinet
