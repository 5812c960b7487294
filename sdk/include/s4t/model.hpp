#pragma once
// The multi-task model the host composes from a backbone, one head per task and the method's own
// modules. Methods receive it to run forward passes and to pick the parameters they adapt.
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "s4t/export.hpp"
#include "s4t/features.hpp"
#include "s4t/task.hpp"

namespace torch::nn { class Module; }

namespace s4t {

/// Result of a full forward pass.
struct S4T_API ModelOutput {
  Features features;
  std::map<std::string, at::Tensor> predictions;  ///< raw main outputs per task, at input size
};

/// Parameter names under root(): "backbone.<torchvision name>", "heads.<task>.<name>",
/// "method.<name>". Methods select what they adapt by these prefixes.
class S4T_API MultiTaskModel {
 public:
  virtual ~MultiTaskModel();
  virtual const std::vector<TaskSpec>& tasks() const = 0;
  virtual const FeatureInfo& feature_info() const = 0;
  /// (H, W) of source training images; the fused grid is derived from it.
  virtual std::array<std::int64_t, 2> train_size() const = 0;
  virtual at::Device device() const = 0;
  /// Backbone, then heads (or the architecture's own predictions).
  virtual ModelOutput forward(const at::Tensor& images, const ForwardOptions& options = {}) = 0;
  /// Backbone only.
  virtual Features features(const at::Tensor& images, const ForwardOptions& options = {}) = 0;
  /// Heads only, on given features; predictions at `output_size`.
  virtual std::map<std::string, at::Tensor> predict(const Features& features,
                                                    std::array<std::int64_t, 2> output_size) = 0;
  /// Module holding everything (backbone, heads, method); its train()/eval() reach every part.
  virtual torch::nn::Module& root() = 0;
};

}  // namespace s4t
