#pragma once
// torchvision's ResNet in LibTorch, with torchvision's parameter names (conv1, bn1, layer1.0.conv1 ...,
// layer1.0.downsample.0) so a Python `torch.save(resnet.state_dict())` loads unchanged. No fc layer.
#include <torch/nn/module.h>
#include "s4t/batch_norm.hpp"  // BatchNorm2d that can synchronise over ranks (SyncBatchNorm)
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/pooling.h>

#include <vector>

#include "s4t/features.hpp"

namespace s4t::resnet {

struct ResNetOptions {
  int depth = 50;                 ///< 18, 34, 50 or 101
  std::int64_t width = 64;        ///< channels of the stem; torchvision uses 64
  bool dilate_layer3 = false;     ///< replace_stride_with_dilation[1]
  bool dilate_layer4 = false;     ///< replace_stride_with_dilation[2]
  double bn_momentum = 0.1;
};

/// Where a forward pass records normalisation outputs (may be null).
using NormTape = std::vector<at::Tensor>*;

class BlockImpl : public torch::nn::Module {
 public:
  virtual at::Tensor run(const at::Tensor& x, NormTape tape) = 0;
};

class BasicBlockImpl : public BlockImpl {
 public:
  static constexpr int kExpansion = 1;
  BasicBlockImpl(std::int64_t in, std::int64_t planes, std::int64_t stride, std::int64_t dilation, bool downsample,
                 double momentum);
  at::Tensor run(const at::Tensor& x, NormTape tape) override;

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  s4t::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential downsample{nullptr};
};

class BottleneckImpl : public BlockImpl {
 public:
  static constexpr int kExpansion = 4;
  BottleneckImpl(std::int64_t in, std::int64_t planes, std::int64_t stride, std::int64_t dilation, bool downsample,
                 double momentum);
  at::Tensor run(const at::Tensor& x, NormTape tape) override;

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  s4t::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};
};

class ResNetImpl : public torch::nn::Module {
 public:
  explicit ResNetImpl(const ResNetOptions& options);
  /// C2..C5 (outputs of layer1..layer4); `last_stage` >= 0 stops after that stage (0 = C2).
  std::vector<at::Tensor> stages(const at::Tensor& images, NormTape tape = nullptr, std::int64_t last_stage = -1);
  const std::vector<std::int64_t>& channels() const { return channels_; }
  const std::vector<std::int64_t>& strides() const { return strides_; }
  /// C2..C5 as FeatureInfo::stages: prefixes {conv1., bn1., layer1.}, {layer2.}, ... relative to the module
  /// that holds this network's children (this one, or MTI-Net, which mounts them under the same names).
  std::vector<StageInfo> stage_info() const;

 private:
  torch::nn::Conv2d conv1{nullptr};
  s4t::nn::BatchNorm2d bn1{nullptr};
  torch::nn::MaxPool2d maxpool{nullptr};
  std::vector<std::vector<std::shared_ptr<BlockImpl>>> layers_;
  std::vector<std::int64_t> channels_, strides_;
};
TORCH_MODULE(ResNet);

/// Blocks per stage for a depth; throws for unsupported depths.
std::vector<int> blocks_for_depth(int depth);

}  // namespace s4t::resnet
