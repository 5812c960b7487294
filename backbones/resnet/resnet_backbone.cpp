#include "resnet_backbone.hpp"

#include <ATen/ops/cat.h>

#include <filesystem>

#include "s4t/error.hpp"
#include "s4t/log.hpp"
#include "s4t/state_dict.hpp"
#include "s4t/tensor_ops.hpp"

namespace s4t::resnet {

const Binding<ResNetSettings>& resnet_binding() {
  using S = ResNetSettings;
  static const auto b =
      Binding<S>()
          .integer("depth", &S::depth, 50, "ResNet depth: 18, 34, 50, 101 or 152")
          .integer("width", &S::width, 64, "stem channels (64 = torchvision); small values give tiny test models", 1,
                   4096)
          .flag("dilate_layer3", &S::dilate_layer3, false,
                "replace layer3's stride by dilation (output stride 16 -> 8)")
          .flag("dilate_layer4", &S::dilate_layer4, false, "replace layer4's stride by dilation")
          .real("bn_momentum", &S::bn_momentum, 0.1, "BatchNorm momentum", 0.0, 1.0)
          .flag("fused", &S::fused, true, "compute the S4T fused map (stages resized to train size / 4, concatenated)")
          .text("pretrained", &S::pretrained, "",
                "torchvision state_dict saved with torch.save (e.g. resnet50-19c8e357.pth); "
                "relative to the config file; fc.* is ignored")
          .then([](S& s, const Options&) { blocks_for_depth(static_cast<int>(s.depth)); });  // validates
  return b;
}

ResNetBackbone::ResNetBackbone(const BuildContext& ctx, const ResNetSettings& s) : fused_(s.fused) {
  ResNetOptions ro;
  ro.depth = static_cast<int>(s.depth);
  ro.width = s.width;
  ro.dilate_layer3 = s.dilate_layer3;
  ro.dilate_layer4 = s.dilate_layer4;
  ro.bn_momentum = s.bn_momentum;
  net_ = ResNet(ro);
  info_.stages = net_->stage_info();
  if (fused_) {
    if (ctx.train_size[0] <= 0 || ctx.train_size[1] <= 0)
      throw ConfigError("resnet: the fused map needs the training image size");
    for (auto& stage : info_.stages) info_.fused_channels += stage.channels;
    info_.fused_size = {ctx.train_size[0] / 4, ctx.train_size[1] / 4};
  }
  if (!s.pretrained.empty()) {
    std::filesystem::path p(s.pretrained);
    if (p.is_relative()) p = ctx.config_dir / p;
    auto state = read_state_dict(p);
    state.erase("fc.weight");
    state.erase("fc.bias");
    try {
      auto report = load_state_dict(*net_, state, "", /*strict=*/true);
      log::info("resnet: loaded {} tensors from {}", report.loaded.size(), p.string());
    } catch (const DataError& e) {
      throw DataError("resnet pretrained weights '" + p.string() + "': " + e.what());
    }
  }
}

Features ResNetBackbone::forward(const at::Tensor& images, const ForwardOptions& options) {
  Features f;
  f.stages = net_->stages(images, options.record_norm_outputs ? &f.norm_outputs : nullptr, options.stop_after_stage);
  if (fused_ && options.needs_decoder()) {
    std::vector<at::Tensor> resized;
    for (auto& s : f.stages) resized.push_back(resize_bilinear(s, info_.fused_size));
    f.fused = at::cat(resized, 1);
  }
  return f;
}

}  // namespace s4t::resnet
