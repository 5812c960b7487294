#include "task_heads.hpp"

#include <ATen/ops/relu.h>

#include "s4t/error.hpp"
#include "s4t/tensor_ops.hpp"

namespace s4t::heads {

const Binding<ConvDecoderSettings>& conv_decoder_binding() {
  static const auto b = Binding<ConvDecoderSettings>().integer("hidden", &ConvDecoderSettings::hidden, 256,
                                                               "channels of the 3x3 convolution", 1, 65536);
  return b;
}

HeadInput choose_input(const TaskSpec& task, const FeatureInfo& info) {
  if (auto it = info.task_feature_channels.find(task.name); it != info.task_feature_channels.end())
    return {HeadInput::Source::TaskFeatures, it->second};
  if (info.fused_channels > 0) return {HeadInput::Source::Fused, info.fused_channels};
  if (!info.stages.empty()) return {HeadInput::Source::LastStage, info.stages.back().channels};
  throw PluginError("head for task '" + task.name + "': the backbone offers no feature map");
}

const at::Tensor& select_input(const HeadInput& input, const std::string& task, const Features& f) {
  switch (input.source) {
    case HeadInput::Source::TaskFeatures: return f.task_features.at(task);
    case HeadInput::Source::Fused: return f.fused;
    case HeadInput::Source::LastStage: return f.stages.back();
  }
  return f.fused;
}

Conv1x1Head::Conv1x1Head(const TaskSpec& task, const FeatureInfo& info) : task_(task.name), input_(choose_input(task, info)) {
  conv_ = torch::nn::Conv2d(torch::nn::Conv2dOptions(input_.channels, task.channels, 1).bias(true));
}

at::Tensor Conv1x1Head::forward(const Features& features, std::array<std::int64_t, 2> output_size) {
  return resize_bilinear(conv_->forward(select_input(input_, task_, features)), output_size);
}

ConvDecoderImpl::ConvDecoderImpl(std::int64_t in, std::int64_t hidden, std::int64_t out) {
  conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, hidden, 3).padding(1).bias(false)));
  bn1 = register_module("bn1", s4t::nn::BatchNorm2d(hidden));
  conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, out, 1)));
}

at::Tensor ConvDecoderImpl::forward(const at::Tensor& x) { return conv2->forward(at::relu(bn1->forward(conv1->forward(x)))); }

ConvDecoderHead::ConvDecoderHead(const TaskSpec& task, const FeatureInfo& info, const ConvDecoderSettings& settings)
    : task_(task.name), input_(choose_input(task, info)) {
  net_ = ConvDecoder(input_.channels, settings.hidden, task.channels);
}

at::Tensor ConvDecoderHead::forward(const Features& features, std::array<std::int64_t, 2> output_size) {
  return resize_bilinear(net_->forward(select_input(input_, task_, features)), output_size);
}

}  // namespace s4t::heads
