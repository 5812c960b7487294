#pragma once
// What a plugin returns is checked against what it declared, at the boundary, so a misbehaving
// third-party component fails with one message naming it and the expectation instead of a raw LibTorch
// error deep inside a loss or a silent wrong result. Shape and dtype checks only: no host sync.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "s4t/batch.hpp"
#include "s4t/features.hpp"
#include "s4t/task.hpp"

namespace s4t::host {

/// Backbone output vs its FeatureInfo: stage count (respecting stop_after_stage), N×C×h×w with the
/// declared channels and a spatial size consistent with the declared stride, device; fused map and
/// task features when declared. Throws PluginError naming `label`.
void check_features(const std::string& label, const FeatureInfo& info, const Features& features,
                    const at::Tensor& images, const ForwardOptions& options);

/// A task's prediction: floating N×K×H×W with K = task.channels at `size`, on the images' device.
void check_prediction(const std::string& label, const TaskSpec& task, const at::Tensor& prediction,
                      const at::Tensor& images, std::array<std::int64_t, 2> size);

/// A dataset sample vs the dataset's declared tasks: image 3×H×W float; per task a target (H×W int64 with
/// labels in [0, K) or the ignore index for classification, C×H×W float for regression) and a 1×H×W
/// bool mask of the image's size. Throws DataError naming `label` and the sample index.
void check_sample(const std::string& label, const std::vector<TaskSpec>& tasks, const Sample& sample,
                  std::int64_t index);

}  // namespace s4t::host
