// Plugin entry: registers the generic task heads.
#include "s4t/plugin.hpp"
#include "task_heads.hpp"

namespace {
void register_heads(s4t::Registrar& r) {
  s4t::ComponentInfo c1;
  c1.name = "conv1x1";
  c1.summary = "1x1 convolution (with bias) to the task's channels, bilinearly upsampled: the S4T main head";
  c1.doc = "Reads the task's own features when the backbone provides them (MTI-Net), else the fused map, "
           "else the last stage. For ResNet-50 on 12 outputs this is 46,092 parameters "
           "(docs/methods.md#base-network).";
  r.add_head(c1, [](const s4t::BuildContext&, const s4t::TaskSpec& task, const s4t::FeatureInfo& info,
                    const s4t::Options&) { return std::make_shared<s4t::heads::Conv1x1Head>(task, info); });

  s4t::ComponentInfo c2;
  c2.name = "conv_decoder";
  c2.summary = "3x3 conv + BatchNorm + ReLU + 1x1 conv, bilinearly upsampled";
  c2.doc = "A slightly deeper head for backbones without a fused map; same input choice as conv1x1.";
  c2.schema = s4t::heads::conv_decoder_binding().schema();
  r.add_head(c2, [](const s4t::BuildContext&, const s4t::TaskSpec& task, const s4t::FeatureInfo& info,
                    const s4t::Options& o) {
    return std::make_shared<s4t::heads::ConvDecoderHead>(task, info, s4t::heads::conv_decoder_binding().read(o));
  });
}
}  // namespace

S4T_PLUGIN("s4t.heads", "1.0.0", register_heads)
