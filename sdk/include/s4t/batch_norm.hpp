#pragma once
// BatchNorm2d that can synchronise its batch statistics over data-parallel ranks (PyTorch's
// SyncBatchNorm), for backbones and heads. LibTorch has no SyncBatchNorm and its BatchNorm forward is
// not virtual, so this is a subclass of torch::nn::BatchNorm2dImpl: everything that looks BatchNorm
// layers up by dynamic_cast (NormLayers, parameter selection) still finds it, and its parameters and
// buffers keep torch's names (weight, bias, running_mean, running_var, num_batches_tracked).
//
// forward() synchronises only when the layer is training, sync_batch_norm_enabled() is true and
// collectives() is installed with world_size() > 1 (collectives.hpp); otherwise it is torch's
// BatchNorm2d forward, bit for bit.
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

#include "s4t/export.hpp"

namespace s4t::nn {

class S4T_API BatchNorm2dImpl : public torch::nn::BatchNorm2dImpl {
 public:
  explicit BatchNorm2dImpl(const torch::nn::BatchNorm2dOptions& options);
  explicit BatchNorm2dImpl(std::int64_t num_features);
  /// Out of line: the vtable (and LibTorch's BatchNorm pretty_print it needs) is emitted in libs4t_sdk only.
  ~BatchNorm2dImpl() override;

  /// Synchronised when training, enabled and world_size > 1: mean and (biased) variance over the
  /// samples of every rank from one all-reduce of (Σx, Σx², count) per channel; running_var gets the
  /// unbiased variance over the global count; the backward all-reduces Σdy and Σdy·(x − mean) so input
  /// gradients are those of one batch holding every rank's samples. Weight and bias gradients stay
  /// local (their data-parallel all-reduce sums them), exactly as PyTorch's SyncBatchNorm.
  at::Tensor forward(const at::Tensor& input);
};
TORCH_MODULE(BatchNorm2d);

}  // namespace s4t::nn
