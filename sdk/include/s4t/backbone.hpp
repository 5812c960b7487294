#pragma once
// Backbone plugin interface: image batch -> Features. A backbone may be a plain encoder (ResNet) or a
// whole multi-task architecture that also fills per-task features and predictions (MTI-Net).
#include <ATen/core/Tensor.h>

#include <memory>

#include "s4t/export.hpp"
#include "s4t/features.hpp"

namespace torch::nn { class Module; }

namespace s4t {

/// Device: the backbone lives where the host moves module() to; forward() receives tensors there.
/// Threads: forward() is called from one thread at a time.
class S4T_API Backbone {
 public:
  virtual ~Backbone();
  /// The module that owns every parameter and buffer, named as in the reference implementation
  /// (torchvision: conv1, bn1, layer1.0.conv1.weight ...) so Python state_dicts load.
  virtual std::shared_ptr<torch::nn::Module> module() = 0;
  /// Shapes of what forward() returns.
  virtual FeatureInfo info() const = 0;
  virtual Features forward(const at::Tensor& images, const ForwardOptions& options) = 0;
};

}  // namespace s4t
