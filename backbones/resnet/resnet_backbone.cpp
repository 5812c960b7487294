#include "resnet_backbone.hpp"

#include <ATen/ops/cat.h>

#include "s4t/error.hpp"
#include "s4t/log.hpp"
#include "s4t/state_dict.hpp"
#include "s4t/tensor_ops.hpp"
#include <spdlog/spdlog.h>

namespace s4t::resnet {

Schema resnet_schema() {
  Schema s;
  s.add_int("depth", 50, "ResNet depth: 18, 34, 50, 101 or 152")
      .add_int("width", 64, "stem channels (64 = torchvision); small values give tiny test models", 1, 4096)
      .add_bool("dilate_layer3", false, "replace layer3's stride by dilation (output stride 16 -> 8)")
      .add_bool("dilate_layer4", false, "replace layer4's stride by dilation")
      .add_float("bn_momentum", 0.1, "BatchNorm momentum", 0.0, 1.0)
      .add_bool("fused", true, "compute the S4T fused map (stages resized to train size / 4, concatenated)")
      .add_string("pretrained", "", "torchvision state_dict saved with torch.save (e.g. resnet50-19c8e357.pth); "
                                    "relative to the config file; fc.* is ignored");
  return s;
}

ResNetBackbone::ResNetBackbone(const BuildContext& ctx, const Options& o) {
  ResNetOptions ro;
  ro.depth = static_cast<int>(o.get_int("depth"));
  blocks_for_depth(ro.depth);  // validates
  ro.width = o.get_int("width");
  ro.dilate_layer3 = o.get_bool("dilate_layer3");
  ro.dilate_layer4 = o.get_bool("dilate_layer4");
  ro.bn_momentum = o.get_float("bn_momentum");
  fused_ = o.get_bool("fused");
  net_ = ResNet(ro);
  info_.stage_channels = net_->channels();
  info_.stage_strides = net_->strides();
  if (fused_) {
    if (ctx.train_size[0] <= 0 || ctx.train_size[1] <= 0)
      throw ConfigError("resnet: the fused map needs the training image size");
    for (auto c : info_.stage_channels) info_.fused_channels += c;
    info_.fused_size = {ctx.train_size[0] / 4, ctx.train_size[1] / 4};
  }
  const std::string& pretrained = o.get_string("pretrained");
  if (!pretrained.empty()) {
    std::filesystem::path p(pretrained);
    if (p.is_relative()) p = ctx.config_dir / p;
    auto state = read_state_dict(p);
    state.erase("fc.weight");
    state.erase("fc.bias");
    try {
      auto report = load_state_dict(*net_, state, "", /*strict=*/true);
      logger()->info("resnet: loaded {} tensors from {}", report.loaded.size(), p.string());
    } catch (const DataError& e) {
      throw DataError("resnet pretrained weights '" + p.string() + "': " + e.what());
    }
  }
}

Features ResNetBackbone::forward(const at::Tensor& images, const ForwardOptions& options) {
  Features f;
  f.stages = net_->stages(images, options.record_norm_outputs ? &f.norm_outputs : nullptr);
  if (fused_ && !options.stages_only) {
    std::vector<at::Tensor> resized;
    for (auto& s : f.stages) resized.push_back(resize_bilinear(s, info_.fused_size));
    f.fused = at::cat(resized, 1);
  }
  return f;
}

}  // namespace s4t::resnet
