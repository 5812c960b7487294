#include "resnet_modules.hpp"

#include <ATen/ops/relu.h>
#include <torch/nn/init.h>

#include "s4t/error.hpp"

namespace s4t::resnet {

namespace {
torch::nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride, std::int64_t pad,
                       std::int64_t dilation = 1) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).dilation(dilation).bias(false));
}
s4t::nn::BatchNorm2d bn(std::int64_t c, double momentum) {
  return s4t::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(c).momentum(momentum));
}
at::Tensor tape_bn(s4t::nn::BatchNorm2d& layer, const at::Tensor& x, NormTape tape) {
  auto y = layer->forward(x);
  if (tape) tape->push_back(y);
  return y;
}
torch::nn::Sequential make_downsample(std::int64_t in, std::int64_t out, std::int64_t stride, double momentum) {
  torch::nn::Sequential s;
  s->push_back(conv(in, out, 1, stride, 0));
  s->push_back(bn(out, momentum));
  return s;
}
}  // namespace

std::vector<int> blocks_for_depth(int depth) {
  switch (depth) {
    case 18: return {2, 2, 2, 2};
    case 34: return {3, 4, 6, 3};
    case 50: return {3, 4, 6, 3};
    case 101: return {3, 4, 23, 3};
    case 152: return {3, 8, 36, 3};
  }
  throw ConfigError("resnet depth " + std::to_string(depth) + " is not supported; expected 18, 34, 50, 101 or 152");
}

BasicBlockImpl::BasicBlockImpl(std::int64_t in, std::int64_t planes, std::int64_t stride, std::int64_t dilation,
                               bool ds, double momentum) {
  conv1 = register_module("conv1", conv(in, planes, 3, stride, dilation, dilation));
  bn1 = register_module("bn1", bn(planes, momentum));
  conv2 = register_module("conv2", conv(planes, planes, 3, 1, dilation, dilation));
  bn2 = register_module("bn2", bn(planes, momentum));
  if (ds) downsample = register_module("downsample", make_downsample(in, planes, stride, momentum));
}

at::Tensor BasicBlockImpl::run(const at::Tensor& x, NormTape tape) {
  auto out = at::relu(tape_bn(bn1, conv1->forward(x), tape));
  out = tape_bn(bn2, conv2->forward(out), tape);
  at::Tensor identity = x;
  if (downsample) {
    identity = downsample->forward(x);  // conv 1x1 + BN: the output is a normalisation output
    if (tape) tape->push_back(identity);
  }
  return at::relu(out.add(identity));
}

BottleneckImpl::BottleneckImpl(std::int64_t in, std::int64_t planes, std::int64_t stride, std::int64_t dilation,
                               bool ds, double momentum) {
  conv1 = register_module("conv1", conv(in, planes, 1, 1, 0));
  bn1 = register_module("bn1", bn(planes, momentum));
  conv2 = register_module("conv2", conv(planes, planes, 3, stride, dilation, dilation));
  bn2 = register_module("bn2", bn(planes, momentum));
  conv3 = register_module("conv3", conv(planes, planes * kExpansion, 1, 1, 0));
  bn3 = register_module("bn3", bn(planes * kExpansion, momentum));
  if (ds) downsample = register_module("downsample", make_downsample(in, planes * kExpansion, stride, momentum));
}

at::Tensor BottleneckImpl::run(const at::Tensor& x, NormTape tape) {
  auto out = at::relu(tape_bn(bn1, conv1->forward(x), tape));
  out = at::relu(tape_bn(bn2, conv2->forward(out), tape));
  out = tape_bn(bn3, conv3->forward(out), tape);
  at::Tensor identity = x;
  if (downsample) {
    identity = downsample->forward(x);  // conv 1x1 + BN: the output is a normalisation output
    if (tape) tape->push_back(identity);
  }
  return at::relu(out.add(identity));
}

ResNetImpl::ResNetImpl(const ResNetOptions& o) {
  const auto blocks = blocks_for_depth(o.depth);
  const bool bottleneck = o.depth >= 50;
  const int expansion = bottleneck ? BottleneckImpl::kExpansion : BasicBlockImpl::kExpansion;
  conv1 = register_module("conv1", conv(3, o.width, 7, 2, 3));
  bn1 = register_module("bn1", bn(o.width, o.bn_momentum));
  maxpool = register_module("maxpool", torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
  std::int64_t in = o.width, dilation = 1, stride_so_far = 4;
  const bool dilate[4] = {false, false, o.dilate_layer3, o.dilate_layer4};
  for (int s = 0; s < 4; ++s) {
    std::int64_t planes = o.width << s;
    std::int64_t stride = s == 0 ? 1 : 2;
    const std::int64_t previous_dilation = dilation;
    if (dilate[s]) {  // torchvision: keep resolution, grow dilation instead
      dilation *= stride;
      stride = 1;
    }
    stride_so_far *= stride;
    auto layer = std::make_shared<torch::nn::Module>("Layer");
    std::vector<std::shared_ptr<BlockImpl>> list;
    for (int b = 0; b < blocks[s]; ++b) {
      const bool first = b == 0;
      const bool ds = first && (stride != 1 || in != planes * expansion);
      const std::int64_t block_stride = first ? stride : 1;
      const std::int64_t block_dilation = first ? previous_dilation : dilation;
      std::shared_ptr<BlockImpl> block;
      if (bottleneck) block = std::make_shared<BottleneckImpl>(in, planes, block_stride, block_dilation, ds, o.bn_momentum);
      else block = std::make_shared<BasicBlockImpl>(in, planes, block_stride, block_dilation, ds, o.bn_momentum);
      layer->register_module(std::to_string(b), std::static_pointer_cast<torch::nn::Module>(block));
      list.push_back(block);
      in = planes * expansion;
    }
    register_module("layer" + std::to_string(s + 1), layer);
    layers_.push_back(list);
    channels_.push_back(in);
    strides_.push_back(stride_so_far);
  }
  // torchvision initialisation: Kaiming-normal (fan_out, relu) convs, BN weight 1 / bias 0.
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* c = m->as<torch::nn::Conv2dImpl>())
      torch::nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
  }
}

std::vector<StageInfo> ResNetImpl::stage_info() const {
  std::vector<StageInfo> out;
  for (std::size_t s = 0; s < channels_.size(); ++s) {
    StageInfo info;
    info.name = "C" + std::to_string(s + 2);
    info.channels = channels_[s];
    info.stride = strides_[s];
    if (s == 0) info.parameter_prefixes = {"conv1.", "bn1."};  // the stem computes C2 with layer1
    info.parameter_prefixes.push_back("layer" + std::to_string(s + 1) + ".");
    out.push_back(std::move(info));
  }
  return out;
}

std::vector<at::Tensor> ResNetImpl::stages(const at::Tensor& images, NormTape tape, std::int64_t last_stage) {
  auto x = at::relu(tape_bn(bn1, conv1->forward(images), tape));
  x = maxpool->forward(x);
  std::vector<at::Tensor> out;
  for (auto& layer : layers_) {
    for (auto& block : layer) x = block->run(x, tape);
    out.push_back(x);
    if (last_stage >= 0 && static_cast<std::int64_t>(out.size()) > last_stage) break;
  }
  return out;
}

}  // namespace s4t::resnet
