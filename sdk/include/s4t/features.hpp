#pragma once
// What a backbone (or a whole multi-task architecture) hands to task heads and TTT methods.
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "s4t/export.hpp"

namespace s4t {

/// Per-call switches of a backbone forward pass. Every backbone honours all three.
struct S4T_API ForwardOptions {
  /// Record the output of every normalisation layer in Features::norm_outputs (ActMAD).
  bool record_norm_outputs = false;
  /// Skip the fused map and per-task paths when only stages are needed (e.g. rotation TTT on stages).
  bool stages_only = false;
  /// >= 0: compute stages[0..k] only and stop (implies stages_only); -1: every stage. Methods that
  /// read one early stage at test time (TTTFlow, ClusT3, NC-TTT) use it so later stages cost nothing.
  std::int64_t stop_after_stage = -1;

  /// True when stage `k` (0-based) has to be computed.
  bool needs_stage(std::int64_t k) const { return stop_after_stage < 0 || k <= stop_after_stage; }
  /// True when anything past the stages (fused map, task paths, predictions) has to be computed.
  bool needs_decoder() const { return !stages_only && stop_after_stage < 0; }
};

/// Outputs of a backbone forward pass. Everything is on the input's device.
struct S4T_API Features {
  std::vector<at::Tensor> stages;              ///< multi-scale maps, fine to coarse (ResNet: C2..C5)
  at::Tensor fused;                            ///< optional: stages resized to one grid and concatenated (S4T §1.2)
  std::map<std::string, at::Tensor> task_features;     ///< optional: per-task feature maps (MTI-Net)
  std::map<std::string, at::Tensor> task_predictions;  ///< optional: architecture's own final outputs, at input size
  /// optional: intermediate per-task predictions for deep supervision (at input size), per task
  std::map<std::string, std::vector<at::Tensor>> deep_supervision;
  std::vector<at::Tensor> norm_outputs;        ///< filled when ForwardOptions::record_norm_outputs
};

/// One encoder stage as a backbone publishes it. Methods address the encoder only through these.
struct S4T_API StageInfo {
  std::string name;                 ///< e.g. "C2" (informational)
  std::int64_t channels = 0;        ///< channels of Features::stages[k]
  std::int64_t stride = 1;          ///< input size / stage size
  /// Parameter-name prefixes, relative to Backbone::module(), of every parameter that computes this
  /// stage and no earlier one (stage 0 includes the stem). ResNet: {"conv1.", "bn1.", "layer1."}, then
  /// {"layer2."} ... The union over stages 0..k is "the encoder up to stage k".
  std::vector<std::string> parameter_prefixes;
};

/// Static shape facts about a backbone's Features, known before any forward pass.
struct S4T_API FeatureInfo {
  std::vector<StageInfo> stages;                ///< fine to coarse, one per Features::stages entry
  std::int64_t fused_channels = 0;              ///< 0 when there is no fused map
  std::array<std::int64_t, 2> fused_size{0, 0}; ///< (h, w) grid of the fused map
  std::map<std::string, std::int64_t> task_feature_channels;  ///< per task, when task_features exist
  bool provides_predictions = false;            ///< true: task_predictions are filled, heads are not built

  std::vector<std::int64_t> stage_channels() const;  ///< channels of each stage
  std::vector<std::int64_t> stage_strides() const;   ///< stride of each stage
};

}  // namespace s4t
