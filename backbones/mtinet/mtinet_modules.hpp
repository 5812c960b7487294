#pragma once
// MTI-Net (Vandenhende, Georgoulis, Van Gool, ECCV 2020; docs/mtinet.md) on the stages of a torchvision
// ResNet. Module and parameter names follow the reference implementation
// (SimonVandenhende/Multi-Task-Learning-PyTorch, models/mti_net.py, layers.py, seg_hrnet.py):
//   scale_<s>.refinement.<task>.{0,1}.*     initial task prediction: two BasicBlocks per task
//   scale_<s>.decoders.<task>.*             1x1 conv to K_t (deep supervision)
//   fpm_scale_<s>.non_linear.{0,1,2}.*      feature propagation module (s = 1, 2, 3)
//   fpm_scale_<s>.dimensionality_reduction.*
//   fpm_scale_<s>.se.<task>.squeeze.{0,2}.*
//   distillation_scale_<s>.self_attention.<task>.<other>.{attention.0,conv}.weight
//   heads.<task>.last_layer.{0,1,3}.*       feature aggregation (HRNet head)
// and, for the ResNet version, `reduce.<s>.{0,1}.*` (1x1 conv + BN + ReLU from C_{s+2} to channels[s]).
// The ResNet trunk's modules are registered at the top level under torchvision's own names (conv1, bn1,
// layer1 ... layer4) so torchvision state dicts load unchanged and the trunk's stage prefixes
// (FeatureInfo::stages) are those of the plain ResNet.
#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include "s4t/batch_norm.hpp"  // BatchNorm2d that can synchronise over ranks (SyncBatchNorm)
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "resnet_modules.hpp"

namespace s4t::mtinet {

using resnet::NormTape;

struct MTINetOptions {
  resnet::ResNetOptions trunk;                         ///< depth, width, BN momentum of the ResNet
  std::array<std::int64_t, 4> channels{48, 96, 192, 384};  ///< c_s of scales 0..3 (strides 4..32)
  std::int64_t se_reduction = 16;                      ///< squeeze-and-excitation ratio r (hidden = max(1, c/r))
  bool reference_attention_view = false;               ///< FPM softmax over the reference code's (c, |A|) view
  bool aggregated_task_features = false;               ///< task features = aggregation-head hidden features
};

/// One task of the architecture: name and output channels K_t.
struct TaskOutput {
  std::string name;
  std::int64_t channels = 1;
};

/// Conv (1x1, no bias) + BatchNorm + ReLU, children "0" and "1" (as an nn.Sequential).
class ConvBnReluImpl : public torch::nn::Module {
 public:
  ConvBnReluImpl(std::int64_t in, std::int64_t out, double momentum);
  at::Tensor forward(const at::Tensor& x, NormTape tape);

 private:
  torch::nn::Conv2d conv{nullptr};
  s4t::nn::BatchNorm2d bn{nullptr};
};
TORCH_MODULE(ConvBnRelu);

/// Squeeze-and-excitation (layers.py SEBlock): x * sigmoid(W2 relu(W1 mean_hw(x))).
class SEBlockImpl : public torch::nn::Module {
 public:
  SEBlockImpl(std::int64_t channels, std::int64_t reduction);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::Sequential squeeze{nullptr};
};
TORCH_MODULE(SEBlock);

/// PAD-Net spatial attention (layers.py SABlock): conv3x3(x) * sigmoid(conv3x3(x)), no biases.
/// The distillation module applies these with one fused convolution per source task; this class owns
/// the weights under the reference names.
class SABlockImpl : public torch::nn::Module {
 public:
  explicit SABlockImpl(std::int64_t channels);
  at::Tensor forward(const at::Tensor& x);
  const at::Tensor& feature_weight() const { return conv->weight; }
  const at::Tensor& attention_weight() const { return attention_conv->weight; }

 private:
  torch::nn::Sequential attention{nullptr};  // attention.0 = attention_conv, attention.1 = Sigmoid
  torch::nn::Conv2d attention_conv{nullptr}, conv{nullptr};
};
TORCH_MODULE(SABlock);

/// Initial task prediction module of one scale: per task, [backbone feature ++ upsampled FPM output of
/// the coarser scale] -> two BasicBlocks -> φ_t (c_s channels) -> 1x1 conv -> initial prediction.
class InitialPredictionImpl : public torch::nn::Module {
 public:
  InitialPredictionImpl(const std::vector<TaskOutput>& tasks, std::int64_t in_channels, std::int64_t channels,
                        double momentum);
  struct Result {
    std::vector<at::Tensor> features;     ///< φ_t, task order
    std::vector<at::Tensor> predictions;  ///< initial predictions at this scale's resolution
  };
  /// `previous` holds the per-task FPM outputs of the coarser scale (empty at the coarsest scale).
  Result forward(const at::Tensor& x, const std::vector<at::Tensor>& previous, NormTape tape, bool predict);

 private:
  std::vector<std::array<std::shared_ptr<resnet::BasicBlockImpl>, 2>> refinement_;
  std::vector<torch::nn::Conv2d> decoders_;
};
TORCH_MODULE(InitialPrediction);

/// Feature propagation module (mti_net.py FPM): task attention over the concatenated task features,
/// a shared dimensionality reduction, and per-task squeeze-and-excitation plus the residual φ_t.
class FPMImpl : public torch::nn::Module {
 public:
  FPMImpl(const std::vector<TaskOutput>& tasks, std::int64_t channels, std::int64_t se_reduction,
          bool reference_view, double momentum);
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& features, NormTape tape);

 private:
  std::int64_t tasks_, channels_;
  bool reference_view_;
  std::shared_ptr<resnet::BasicBlockImpl> non_linear0_, non_linear1_, reduction_;
  torch::nn::Conv2d non_linear2_{nullptr};
  std::vector<SEBlock> se_;
};
TORCH_MODULE(FPM);

/// Multi-modal distillation (mti_net.py MultiTaskDistillationModule):
/// out_t = φ_t + Σ_{a≠t} SA_{t,a}(φ_a).
class DistillationImpl : public torch::nn::Module {
 public:
  DistillationImpl(const std::vector<TaskOutput>& tasks, std::int64_t channels);
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& features);

 private:
  std::int64_t channels_;
  // blocks_[t][a]: SA_{t,a}, null for a == t
  std::vector<std::vector<SABlock>> blocks_;
};
TORCH_MODULE(Distillation);

/// Feature aggregation head of one task (seg_hrnet.py HighResolutionHead): the four distilled maps,
/// upsampled to scale 0 and concatenated, -> 1x1 conv (bias) + BN + ReLU + 1x1 conv (bias) -> K_t.
class AggregationHeadImpl : public torch::nn::Module {
 public:
  AggregationHeadImpl(std::int64_t in_channels, std::int64_t out_channels, double momentum);
  /// Hidden features (after the ReLU) of the concatenated input.
  at::Tensor hidden(const at::Tensor& concatenated, NormTape tape);
  at::Tensor classify(const at::Tensor& hidden);

 private:
  torch::nn::Conv2d conv0{nullptr}, conv3{nullptr};
  s4t::nn::BatchNorm2d bn1{nullptr};
};
TORCH_MODULE(AggregationHead);

/// Everything MTI-Net computes after the trunk.
struct MTINetOutput {
  /// initial[s][t]: initial prediction of task t at scale s (s = 0 finest), at that scale's resolution.
  std::vector<std::vector<at::Tensor>> initial;
  std::vector<at::Tensor> task_features;  ///< per task, at scale 0 (stride 4)
  std::vector<at::Tensor> outputs;        ///< final per-task outputs at scale 0 (upsample to the image)
};

class MTINetImpl : public torch::nn::Module {
 public:
  MTINetImpl(const MTINetOptions& options, std::vector<TaskOutput> tasks);

  /// C2..C5 of the ResNet trunk; `last_stage` >= 0 stops after that stage.
  std::vector<at::Tensor> stages(const at::Tensor& images, NormTape tape = nullptr, std::int64_t last_stage = -1);
  /// Reduction, initial predictions and FPMs (coarse to fine), distillation and aggregation.
  /// `initial_predictions = false` skips the 1x1 decoders of the initial predictions.
  MTINetOutput decode(const std::vector<at::Tensor>& stages, NormTape tape = nullptr, bool initial_predictions = true);

  resnet::ResNetImpl& trunk() { return *trunk_; }
  const std::vector<TaskOutput>& tasks() const { return tasks_; }
  const MTINetOptions& options() const { return options_; }
  /// Channels of one task feature map (Σ_s c_s for both choices of task features).
  std::int64_t task_feature_channels() const;

 private:
  MTINetOptions options_;
  std::vector<TaskOutput> tasks_;
  resnet::ResNet trunk_{nullptr};
  std::vector<ConvBnRelu> reduce_;
  std::vector<InitialPrediction> scales_;  // index = scale
  std::vector<FPM> fpms_;                  // index = scale; [0] is null (no FPM at scale 0)
  std::vector<Distillation> distillation_;
  std::vector<AggregationHead> heads_;     // task order
};
TORCH_MODULE(MTINet);

}  // namespace s4t::mtinet
