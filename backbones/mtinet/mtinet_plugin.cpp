// Plugin entry: registers the `mtinet` backbone.
#include "mtinet_backbone.hpp"
#include "s4t/plugin.hpp"

namespace s4t::mtinet {

const char* mtinet_doc() {
  return R"(MTI-Net (Vandenhende et al., ECCV 2020; docs/mtinet.md) on a torchvision ResNet trunk: a whole
multi-task architecture that predicts every task itself (no [model] head is built).
Trunk: the resnet plugin's ResNet (depth, width, bn_momentum), registered at the top of this module under
  torchvision's names (conv1, bn1, layer1.0.conv1.weight ...), so `pretrained` takes a plain torchvision
  state dict. Features::stages = C2..C5 and FeatureInfo::stages (parameter prefixes conv1., bn1., layer1.
  for C2, layer2. .. layer4. for C3..C5) as for `resnet`, so methods that adapt the encoder up to a stage
  (NC-TTT, TTTFlow, ...) work unchanged; the reductions and everything after them are in no stage. No
  fused map.
Reduction: reduce.<s> = 1x1 conv (no bias) + BN + ReLU from C2..C5 to channels[0..3] (a ResNet-50 stage has
  256..2048 channels; an FPM on |A|*2048 channels would need hundreds of millions of parameters).
Per scale s = 3 (stride 32) .. 0 (stride 4), names as in the reference code:
  scale_<s>: per task, [reduced C_s ++ FPM output of scale s+1 resized to scale s] -> two BasicBlocks (1x1
    conv + BN shortcut when the width changes) -> phi_t^s (c_s channels) -> 1x1 conv (decoders.<task>) ->
    initial prediction (deep supervision).
  fpm_scale_<s> (s = 3, 2, 1): concat of all phi_t^s -> BasicBlock to |A|c/4, BasicBlock, 1x1 conv back to
    |A|c -> softmax over the task axis (fpm_attention) -> times the concat -> BasicBlock to c (shared) ->
    per task: squeeze-and-excitation(shared) + phi_t^s, propagated to scale s-1.
  distillation_scale_<s>: out_t = phi_t + sum_{a != t} conv3x3(phi_a) * sigmoid(conv3x3(phi_a)) (no biases);
    the blocks reading the same phi_a run as one stacked convolution.
  heads.<task>: the 4 distilled maps resized to stride 4 and concatenated (sum(channels)) -> 1x1 conv + BN
    + ReLU + 1x1 conv -> K_t, resized bilinearly to the image (Features::task_predictions).
All resizes are bilinear, align_corners = false. All tasks of the model are both auxiliary and main tasks.
Features::task_features[task]: the distilled multi-scale concat of that task (task_features = "distilled",
  the input of its aggregation head, like the fused map is the input of the plain model's heads) or the
  head's hidden features ("aggregated"); sum(channels) channels at stride 4 for every task, so S4T builds its
  latents with one 1x1 projection per task.
Features::deep_supervision[task] (training mode, deep_supervision = true): the initial predictions of scales
  0..3, resized to the image; the host adds the loss terms "<task>@ds0" .. "<task>@ds3" with the task's weight
  (MTI-Net: L = sum_s sum_t w_t l_t(initial) + sum_t w_t l_t(final)).
ForwardOptions: record_norm_outputs records every BatchNorm output (trunk, then MTI-Net in forward order);
  stages_only stops after the trunk, stop_after_stage = k after C(k+2).
Default widths (48, 96, 192, 384) are HRNet-W48's: the MTI-Net part (100.03 M for 4 tasks) then has the
  size of MTI-Net on HRNet-W48. With a ResNet-50 trunk and tasks semseg(7)+depth(1)+normals(3)+edge(1):
  trunk 23.51 M + reductions 1.05 M + MTI-Net 100.03 M = 124.58 M (S4T adds 4.88 M, NC-TTT 0.36 M). The
  supplement's NC-TTT + MTI-Net has 165.0 M, consistent with the same MTI-Net on HRNet-W48's own ~65 M
  backbone. Widths (18, 36, 72, 144) give 37.98 M, (64, 128, 256, 512) 202.70 M.)";
}

}  // namespace s4t::mtinet

namespace {
void register_mtinet(s4t::Registrar& r) {
  s4t::ComponentInfo info;
  info.name = "mtinet";
  info.summary = "MTI-Net (ECCV 2020) on ResNet stages: multi-scale task interactions, predicts every task itself";
  info.doc = s4t::mtinet::mtinet_doc();
  info.schema = s4t::mtinet::mtinet_binding().schema();
  r.add_backbone(info, [](const s4t::BuildContext& ctx, const s4t::Options& o) {
    return std::make_shared<s4t::mtinet::MTINetBackbone>(ctx, s4t::mtinet::mtinet_binding().read(o));
  });
}
}  // namespace

S4T_PLUGIN("s4t.mtinet", "1.0.0", register_mtinet)
