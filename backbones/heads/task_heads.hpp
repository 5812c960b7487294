#pragma once
// Generic task heads: `conv1x1` (the S4T main head, docs/methods.md#base-network) and `conv_decoder`
// (3x3 conv + BN + ReLU + 1x1 conv). Both read the task's own feature map when the backbone provides
// one, else the fused map, else the last stage; the output is resized bilinearly to the input size.
#include <torch/nn/module.h>
#include "s4t/batch_norm.hpp"  // BatchNorm2d that can synchronise over ranks (SyncBatchNorm)
#include <torch/nn/modules/conv.h>

#include "s4t/head.hpp"
#include "s4t/option_binding.hpp"
#include "s4t/task.hpp"

namespace s4t::heads {

/// [head.conv_decoder] as read from TOML.
struct ConvDecoderSettings {
  std::int64_t hidden = 256;
};
const Binding<ConvDecoderSettings>& conv_decoder_binding();

/// Which Features map a head reads, and its channel count.
struct HeadInput {
  enum class Source { TaskFeatures, Fused, LastStage } source;
  std::int64_t channels;
};
HeadInput choose_input(const TaskSpec& task, const FeatureInfo& info);
const at::Tensor& select_input(const HeadInput& input, const std::string& task, const Features& features);

class Conv1x1Head final : public TaskHead {
 public:
  Conv1x1Head(const TaskSpec& task, const FeatureInfo& info);
  std::shared_ptr<torch::nn::Module> module() override { return conv_.ptr(); }
  at::Tensor forward(const Features& features, std::array<std::int64_t, 2> output_size) override;

 private:
  std::string task_;
  HeadInput input_;
  torch::nn::Conv2d conv_{nullptr};
};

class ConvDecoderImpl : public torch::nn::Module {
 public:
  ConvDecoderImpl(std::int64_t in, std::int64_t hidden, std::int64_t out);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  s4t::nn::BatchNorm2d bn1{nullptr};
};
TORCH_MODULE(ConvDecoder);

class ConvDecoderHead final : public TaskHead {
 public:
  ConvDecoderHead(const TaskSpec& task, const FeatureInfo& info, const ConvDecoderSettings& settings);
  std::shared_ptr<torch::nn::Module> module() override { return net_.ptr(); }
  at::Tensor forward(const Features& features, std::array<std::int64_t, 2> output_size) override;

 private:
  std::string task_;
  HeadInput input_;
  ConvDecoder net_{nullptr};
};

}  // namespace s4t::heads
