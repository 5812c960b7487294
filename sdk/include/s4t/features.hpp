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

/// Per-call switches of a backbone forward pass.
struct S4T_API ForwardOptions {
  /// Record the output of every normalisation layer in Features::norm_outputs (ActMAD).
  bool record_norm_outputs = false;
  /// Skip the fused map and per-task paths when only stages are needed (e.g. rotation TTT on stages).
  bool stages_only = false;
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

/// Static shape facts about a backbone's Features, known before any forward pass.
struct S4T_API FeatureInfo {
  std::vector<std::int64_t> stage_channels;
  std::vector<std::int64_t> stage_strides;
  std::int64_t fused_channels = 0;              ///< 0 when there is no fused map
  std::array<std::int64_t, 2> fused_size{0, 0}; ///< (h, w) grid of the fused map
  std::map<std::string, std::int64_t> task_feature_channels;  ///< per task, when task_features exist
  bool provides_predictions = false;            ///< true: task_predictions are filled, heads are not built
};

}  // namespace s4t
