#include "mtinet_backbone.hpp"

#include <filesystem>

#include "s4t/error.hpp"
#include "s4t/log.hpp"
#include "s4t/state_dict.hpp"
#include "s4t/tensor_ops.hpp"

namespace s4t::mtinet {

const Binding<MTINetSettings>& mtinet_binding() {
  using S = MTINetSettings;
  static const auto b =
      Binding<S>()
          .integer("depth", &S::depth, 50, "ResNet trunk depth: 18, 34, 50, 101 or 152")
          .integer("width", &S::width, 64,
                   "trunk stem channels (64 = torchvision); small values give tiny test models", 1, 4096)
          .real("bn_momentum", &S::bn_momentum, 0.1,
                "BatchNorm momentum of the trunk and of every MTI-Net BatchNorm", 0.0, 1.0)
          .integers("channels", &S::channels, {48, 96, 192, 384},
                    "c_0..c_3: widths the 1x1 reductions give C2..C5 (strides 4..32) and the per-task width of "
                    "every MTI-Net module at that scale; default = HRNet-W48's branch widths",
                    1, 65536)
          .integer("se_reduction", &S::se_reduction, 16,
                   "squeeze-and-excitation ratio of the FPMs (hidden = max(1, c/ratio))", 1, 65536)
          .choice("task_features", &S::aggregated_task_features, "distilled",
                  {{"distilled", false}, {"aggregated", true}},
                  "Features::task_features[task]: 'distilled' = the task's four distilled maps upsampled to "
                  "stride 4 and concatenated (input of its aggregation head); 'aggregated' = the head's hidden "
                  "1x1 conv + BN + ReLU output. Both have sum(channels) channels")
          .choice("fpm_attention", &S::reference_attention_view, "task", {{"task", false}, {"reference", true}},
                  "FPM softmax layout: 'task' = over the task axis (the paper); 'reference' = the released "
                  "code's view (B, C/N, N, H, W) of the task-major concatenation")
          .flag("deep_supervision", &S::deep_supervision, true,
                "give the initial predictions of all 4 scales (training mode only) so the host adds "
                "'<task>@ds<k>' loss terms, k = 0 (stride 4) .. 3 (stride 32)")
          .text("pretrained", &S::pretrained, "",
                "torchvision ResNet state_dict saved with torch.save (e.g. resnet50-19c8e357.pth), loaded "
                "into the trunk (conv1, bn1, layer1..layer4); relative to the config file; fc.* is ignored")
          .text("pretrained_prefix", &S::pretrained_prefix, "",
                "prefix of the trunk's names in `pretrained` (e.g. 'backbone.' for a state dict of a "
                "wrapper model); only names with the prefix are read, and all of the trunk must be there")
          .then([](S& s, const Options&) {
            resnet::blocks_for_depth(static_cast<int>(s.depth));  // validates
            if (s.channels.size() != 4)
              throw ConfigError("[backbone.mtinet] channels must list 4 widths (scales 0..3, strides 4..32); got " +
                                std::to_string(s.channels.size()));
          });
  return b;
}

MTINetBackbone::MTINetBackbone(const BuildContext& ctx, const MTINetSettings& s)
    : deep_supervision_(s.deep_supervision) {
  MTINetOptions mo;
  mo.trunk.depth = static_cast<int>(s.depth);
  mo.trunk.width = s.width;
  mo.trunk.bn_momentum = s.bn_momentum;
  for (size_t i = 0; i < 4; ++i) mo.channels[i] = s.channels[i];
  mo.se_reduction = s.se_reduction;
  mo.aggregated_task_features = s.aggregated_task_features;
  mo.reference_attention_view = s.reference_attention_view;

  if (ctx.tasks.empty()) throw ConfigError("mtinet: the model has no tasks (MTI-Net builds modules per task)");
  std::vector<TaskOutput> tasks;
  for (auto& t : ctx.tasks) tasks.push_back({t.name, t.channels});
  net_ = MTINet(mo, tasks);

  // The trunk's children are mounted at the top of this module, so its prefixes hold here too.
  info_.stages = net_->trunk().stage_info();
  for (auto& t : ctx.tasks) info_.task_feature_channels[t.name] = net_->task_feature_channels();
  info_.provides_predictions = true;

  if (!s.pretrained.empty()) {
    std::filesystem::path p(s.pretrained);
    if (p.is_relative()) p = ctx.config_dir / p;
    const std::string& prefix = s.pretrained_prefix;
    auto state = read_state_dict(p);
    state.erase(prefix + "fc.weight");
    state.erase(prefix + "fc.bias");
    try {
      auto report = load_state_dict(net_->trunk(), state, prefix, /*strict=*/true);
      log::info("mtinet: loaded {} trunk tensors from {}", report.loaded.size(), p.string());
    } catch (const DataError& e) {
      throw DataError("mtinet pretrained trunk weights '" + p.string() + "': " + e.what());
    }
  }
}

Features MTINetBackbone::forward(const at::Tensor& images, const ForwardOptions& options) {
  Features f;
  NormTape tape = options.record_norm_outputs ? &f.norm_outputs : nullptr;
  f.stages = net_->stages(images, tape, options.stop_after_stage);
  if (!options.needs_decoder()) return f;
  const bool ds = deep_supervision_ && net_->is_training();
  auto out = net_->decode(f.stages, tape, ds);
  const auto size = spatial_size(images);
  const auto& tasks = net_->tasks();
  for (size_t t = 0; t < tasks.size(); ++t) {
    f.task_features[tasks[t].name] = out.task_features[t];
    f.task_predictions[tasks[t].name] = resize_bilinear(out.outputs[t], size);
    if (ds) {
      auto& maps = f.deep_supervision[tasks[t].name];
      for (size_t s = 0; s < 4; ++s) maps.push_back(resize_bilinear(out.initial[s][t], size));
    }
  }
  return f;
}

}  // namespace s4t::mtinet
