// Plugin entry: registers the `resnet` backbone.
#include "resnet_backbone.hpp"
#include "s4t/plugin.hpp"

namespace {
void register_resnet(s4t::Registrar& r) {
  s4t::ComponentInfo info;
  info.name = "resnet";
  info.summary = "torchvision ResNet-18/34/50/101/152 (no fc): stages C2..C5 and the S4T fused map";
  info.doc =
      "Parameters carry torchvision's names (conv1, bn1, layer1.0.conv1, layer1.0.downsample.0 ...), so a "
      "state_dict saved in Python with torch.save loads through `pretrained`. Stage outputs C2..C5 have "
      "width*(1,2,4,8)*expansion channels (expansion 4 for depth >= 50) at strides 4, 8, 16, 32 (less with "
      "dilation); FeatureInfo::stages gives their parameter prefixes: conv1., bn1. and layer1. for C2, "
      "layer2. .. layer4. for C3..C5. The fused map (S4T, docs/methods.md#base-network) resizes every stage "
      "bilinearly (align_corners=false) to (train H/4, train W/4), computed from the training image size even "
      "when test images are larger, and concatenates them: 3840 channels for ResNet-50. `width` narrows the "
      "network for tests and CPU demos. With ForwardOptions::record_norm_outputs every BatchNorm output is "
      "recorded in forward order (ActMAD); stages_only skips the fused map; stop_after_stage = k computes "
      "C2..C(k+2) only.";
  info.schema = s4t::resnet::resnet_binding().schema();
  r.add_backbone(info, [](const s4t::BuildContext& ctx, const s4t::Options& o) {
    return std::make_shared<s4t::resnet::ResNetBackbone>(ctx, s4t::resnet::resnet_binding().read(o));
  });
}
}  // namespace

S4T_PLUGIN("s4t.resnet", "1.0.0", register_resnet)
