#pragma once
// Task head plugin interface: Features -> prediction of one task at the input resolution.
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <memory>

#include "s4t/export.hpp"
#include "s4t/features.hpp"

namespace torch::nn { class Module; }

namespace s4t {

/// One instance per task. A head reads Features::task_features[task] when the backbone provides it,
/// else Features::fused (or the stages, as the head chooses).
class S4T_API TaskHead {
 public:
  virtual ~TaskHead();
  virtual std::shared_ptr<torch::nn::Module> module() = 0;
  /// Raw output (logits / regression values) of shape N×K×H×W with (H, W) = output_size.
  virtual at::Tensor forward(const Features& features, std::array<std::int64_t, 2> output_size) = 0;
};

}  // namespace s4t
