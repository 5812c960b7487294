#pragma once
// The `mtinet` backbone component: MTI-Net on a ResNet trunk as one Backbone that predicts every task
// itself (FeatureInfo::provides_predictions), with per-task features and deep supervision.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mtinet_modules.hpp"
#include "s4t/backbone.hpp"
#include "s4t/context.hpp"
#include "s4t/option_binding.hpp"

namespace s4t::mtinet {

/// [backbone.mtinet] as read from TOML.
struct MTINetSettings {
  std::int64_t depth = 50;
  std::int64_t width = 64;
  double bn_momentum = 0.1;
  std::vector<std::int64_t> channels;  ///< 4 widths (checked when read)
  std::int64_t se_reduction = 16;
  bool aggregated_task_features = false;  ///< task_features = "aggregated"
  bool reference_attention_view = false;  ///< fpm_attention = "reference"
  bool deep_supervision = true;
  std::string pretrained, pretrained_prefix;
};

/// The options of [backbone.mtinet].
const Binding<MTINetSettings>& mtinet_binding();

class MTINetBackbone final : public Backbone {
 public:
  MTINetBackbone(const BuildContext& ctx, const MTINetSettings& settings);
  std::shared_ptr<torch::nn::Module> module() override { return net_.ptr(); }
  FeatureInfo info() const override { return info_; }
  Features forward(const at::Tensor& images, const ForwardOptions& options) override;

 private:
  MTINet net_{nullptr};
  FeatureInfo info_;
  bool deep_supervision_ = true;
};

/// ComponentInfo::doc of the component.
const char* mtinet_doc();

}  // namespace s4t::mtinet
