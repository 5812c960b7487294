#include "mtinet_modules.hpp"

#include <ATen/ops/cat.h>
#include <ATen/ops/conv2d.h>
#include <ATen/ops/relu.h>
#include <ATen/ops/sigmoid.h>
#include <ATen/ops/softmax.h>

#include <algorithm>

#include "s4t/error.hpp"
#include "s4t/tensor_ops.hpp"

namespace s4t::mtinet {

namespace {

torch::nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t k, bool bias) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).padding(k / 2).bias(bias));
}

s4t::nn::BatchNorm2d bn(std::int64_t c, double momentum) {
  return s4t::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(c).momentum(momentum));
}

at::Tensor taped(s4t::nn::BatchNorm2d& layer, const at::Tensor& x, NormTape tape) {
  auto y = layer->forward(x);
  if (tape) tape->push_back(y);
  return y;
}

/// torchvision BasicBlock from `in` to `out` channels, stride 1; 1x1 conv + BN shortcut when they differ.
std::shared_ptr<resnet::BasicBlockImpl> basic_block(std::int64_t in, std::int64_t out, double momentum) {
  return std::make_shared<resnet::BasicBlockImpl>(in, out, /*stride=*/1, /*dilation=*/1, /*downsample=*/in != out,
                                                  momentum);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------

ConvBnReluImpl::ConvBnReluImpl(std::int64_t in, std::int64_t out, double momentum) {
  conv = register_module("0", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).bias(false)));
  bn = register_module("1", mtinet::bn(out, momentum));
}

at::Tensor ConvBnReluImpl::forward(const at::Tensor& x, NormTape tape) {
  return at::relu(taped(bn, conv->forward(x), tape));
}

SEBlockImpl::SEBlockImpl(std::int64_t channels, std::int64_t reduction) {
  const std::int64_t hidden = std::max<std::int64_t>(1, channels / reduction);
  squeeze = register_module("squeeze", torch::nn::Sequential(torch::nn::Linear(channels, hidden), torch::nn::ReLU(),
                                                             torch::nn::Linear(hidden, channels), torch::nn::Sigmoid()));
}

at::Tensor SEBlockImpl::forward(const at::Tensor& x) {
  auto w = squeeze->forward(x.mean({2, 3}));
  return x.mul(w.view({w.size(0), w.size(1), 1, 1}));
}

SABlockImpl::SABlockImpl(std::int64_t channels) {
  attention_conv = mtinet::conv(channels, channels, 3, false);
  attention = register_module("attention", torch::nn::Sequential(attention_conv, torch::nn::Sigmoid()));
  conv = register_module("conv", mtinet::conv(channels, channels, 3, false));
}

at::Tensor SABlockImpl::forward(const at::Tensor& x) { return conv->forward(x).mul(attention->forward(x)); }

// ---------------------------------------------------------------------------------------------------

InitialPredictionImpl::InitialPredictionImpl(const std::vector<TaskOutput>& tasks, std::int64_t in_channels,
                                             std::int64_t channels, double momentum) {
  auto refinement = register_module("refinement", std::make_shared<torch::nn::Module>("ModuleDict"));
  auto decoders = register_module("decoders", std::make_shared<torch::nn::Module>("ModuleDict"));
  for (auto& t : tasks) {
    auto blocks = refinement->register_module(t.name, std::make_shared<torch::nn::Module>("Sequential"));
    std::array<std::shared_ptr<resnet::BasicBlockImpl>, 2> pair{basic_block(in_channels, channels, momentum),
                                                                basic_block(channels, channels, momentum)};
    blocks->register_module("0", std::static_pointer_cast<torch::nn::Module>(pair[0]));
    blocks->register_module("1", std::static_pointer_cast<torch::nn::Module>(pair[1]));
    refinement_.push_back(pair);
    decoders_.push_back(decoders->register_module(t.name, conv(channels, t.channels, 1, true)));
  }
}

InitialPredictionImpl::Result InitialPredictionImpl::forward(const at::Tensor& x, const std::vector<at::Tensor>& previous,
                                                             NormTape tape, bool predict) {
  Result r;
  const auto size = spatial_size(x);
  for (size_t t = 0; t < refinement_.size(); ++t) {
    // The reference upsamples by a factor of 2; resizing to this scale's size is the same for even sizes
    // and keeps odd sizes (and dilated trunks) working.
    auto in = previous.empty() ? x : at::cat({x, resize_bilinear(previous[t], size)}, 1);
    auto phi = refinement_[t][1]->run(refinement_[t][0]->run(in, tape), tape);
    if (predict) r.predictions.push_back(decoders_[t]->forward(phi));
    r.features.push_back(std::move(phi));
  }
  return r;
}

// ---------------------------------------------------------------------------------------------------

FPMImpl::FPMImpl(const std::vector<TaskOutput>& tasks, std::int64_t channels, std::int64_t se_reduction,
                 bool reference_view, double momentum)
    : tasks_(static_cast<std::int64_t>(tasks.size())), channels_(channels), reference_view_(reference_view) {
  const std::int64_t shared = tasks_ * channels;
  const std::int64_t quarter = std::max<std::int64_t>(1, shared / 4);
  auto non_linear = register_module("non_linear", std::make_shared<torch::nn::Module>("Sequential"));
  non_linear0_ = basic_block(shared, quarter, momentum);
  non_linear1_ = basic_block(quarter, quarter, momentum);
  non_linear2_ = conv(quarter, shared, 1, true);
  non_linear->register_module("0", std::static_pointer_cast<torch::nn::Module>(non_linear0_));
  non_linear->register_module("1", std::static_pointer_cast<torch::nn::Module>(non_linear1_));
  non_linear->register_module("2", non_linear2_);
  reduction_ = basic_block(shared, channels, momentum);
  register_module("dimensionality_reduction", std::static_pointer_cast<torch::nn::Module>(reduction_));
  auto se = register_module("se", std::make_shared<torch::nn::Module>("ModuleDict"));
  for (auto& t : tasks) se_.push_back(se->register_module(t.name, SEBlock(channels, se_reduction)));
}

std::vector<at::Tensor> FPMImpl::forward(const std::vector<at::Tensor>& features, NormTape tape) {
  auto concat = at::cat(features, 1);  // task-major: [φ_0 | φ_1 | ...]
  const auto b = concat.size(0), h = concat.size(2), w = concat.size(3);
  auto logits = non_linear2_->forward(non_linear1_->run(non_linear0_->run(concat, tape), tape));
  at::Tensor weighted;
  if (reference_view_) {
    // The released code views the task-major concatenation as (B, C/N, N, H, W): its "task axis" then
    // groups N adjacent channels (mostly of one task) instead of one channel of every task.
    auto mask = at::softmax(logits.view({b, channels_, tasks_, h, w}), 2);
    weighted = mask.mul(concat.view({b, channels_, tasks_, h, w})).view({b, tasks_ * channels_, h, w});
  } else {
    // Softmax over the task axis: for every channel j and pixel, the weights of φ_0[j] ... φ_{N-1}[j] sum to 1.
    auto mask = at::softmax(logits.view({b, tasks_, channels_, h, w}), 1);
    weighted = mask.mul(concat.view({b, tasks_, channels_, h, w})).view({b, tasks_ * channels_, h, w});
  }
  auto shared = reduction_->run(weighted, tape);
  std::vector<at::Tensor> out;
  for (size_t t = 0; t < se_.size(); ++t) out.push_back(se_[t]->forward(shared).add(features[t]));
  return out;
}

// ---------------------------------------------------------------------------------------------------

DistillationImpl::DistillationImpl(const std::vector<TaskOutput>& tasks, std::int64_t channels) : channels_(channels) {
  auto holder = register_module("self_attention", std::make_shared<torch::nn::Module>("ModuleDict"));
  for (auto& t : tasks) {
    auto per_task = holder->register_module(t.name, std::make_shared<torch::nn::Module>("ModuleDict"));
    std::vector<SABlock> row;
    for (auto& a : tasks) row.push_back(a.name == t.name ? SABlock(nullptr) : per_task->register_module(a.name, SABlock(channels)));
    blocks_.push_back(std::move(row));
  }
}

std::vector<at::Tensor> DistillationImpl::forward(const std::vector<at::Tensor>& features) {
  const size_t n = features.size();
  std::vector<at::Tensor> out(features.begin(), features.end());
  if (n < 2) return out;
  // All SA blocks that read φ_a (one per target task t ≠ a) run as one convolution with their weights
  // stacked: n launches per scale instead of 2n(n-1), and larger GEMMs.
  for (size_t a = 0; a < n; ++a) {
    std::vector<at::Tensor> weights;
    for (size_t t = 0; t < n; ++t) {
      if (t == a) continue;
      weights.push_back(blocks_[t][a]->feature_weight());
      weights.push_back(blocks_[t][a]->attention_weight());
    }
    auto y = at::conv2d(features[a], at::cat(weights, 0), {}, 1, 1).split(channels_, 1);
    size_t k = 0;
    for (size_t t = 0; t < n; ++t) {
      if (t == a) continue;
      out[t] = out[t].add(y[2 * k].mul(at::sigmoid(y[2 * k + 1])));
      ++k;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------

AggregationHeadImpl::AggregationHeadImpl(std::int64_t in_channels, std::int64_t out_channels, double momentum) {
  auto last = register_module("last_layer", std::make_shared<torch::nn::Module>("Sequential"));
  conv0 = last->register_module("0", conv(in_channels, in_channels, 1, true));
  bn1 = last->register_module("1", bn(in_channels, momentum));
  conv3 = last->register_module("3", conv(in_channels, out_channels, 1, true));
}

at::Tensor AggregationHeadImpl::hidden(const at::Tensor& x, NormTape tape) {
  return at::relu(taped(bn1, conv0->forward(x), tape));
}

at::Tensor AggregationHeadImpl::classify(const at::Tensor& hidden) { return conv3->forward(hidden); }

// ---------------------------------------------------------------------------------------------------

MTINetImpl::MTINetImpl(const MTINetOptions& o, std::vector<TaskOutput> tasks) : options_(o), tasks_(std::move(tasks)) {
  if (tasks_.empty()) throw ConfigError("mtinet: the model has no tasks");
  for (auto c : o.channels)
    if (c < 1) throw ConfigError("mtinet: channels must be positive");
  const double m = o.trunk.bn_momentum;
  trunk_ = resnet::ResNet(o.trunk);
  // The trunk's children become ours, under torchvision's names (the ResNet wrapper owns no tensors).
  for (auto& child : trunk_->named_children()) register_module(child.key(), child.value());

  const auto& stage_channels = trunk_->channels();
  auto reduce = register_module("reduce", std::make_shared<torch::nn::Module>("ModuleList"));
  for (size_t s = 0; s < 4; ++s)
    reduce_.push_back(reduce->register_module(std::to_string(s), ConvBnRelu(stage_channels[s], o.channels[s], m)));

  const auto& c = o.channels;
  scales_.resize(4, InitialPrediction(nullptr));
  fpms_.resize(4, FPM(nullptr));
  for (int s = 3; s >= 0; --s) {
    const std::int64_t in = s == 3 ? c[3] : c[s] + c[s + 1];
    scales_[s] = register_module("scale_" + std::to_string(s), InitialPrediction(tasks_, in, c[s], m));
    if (s > 0)
      fpms_[s] = register_module("fpm_scale_" + std::to_string(s),
                                 FPM(tasks_, c[s], o.se_reduction, o.reference_attention_view, m));
  }
  for (int s = 0; s < 4; ++s)
    distillation_.push_back(register_module("distillation_scale_" + std::to_string(s), Distillation(tasks_, c[s])));
  auto heads = register_module("heads", std::make_shared<torch::nn::Module>("ModuleDict"));
  for (auto& t : tasks_)
    heads_.push_back(heads->register_module(t.name, AggregationHead(task_feature_channels(), t.channels, m)));
}

std::int64_t MTINetImpl::task_feature_channels() const {
  std::int64_t sum = 0;
  for (auto c : options_.channels) sum += c;
  return sum;
}

std::vector<at::Tensor> MTINetImpl::stages(const at::Tensor& images, NormTape tape, std::int64_t last_stage) {
  return trunk_->stages(images, tape, last_stage);
}

MTINetOutput MTINetImpl::decode(const std::vector<at::Tensor>& stages, NormTape tape, bool initial_predictions) {
  if (stages.size() != 4) throw PluginError("mtinet: the trunk must give 4 stages");
  std::vector<at::Tensor> x;
  for (size_t s = 0; s < 4; ++s) x.push_back(reduce_[s]->forward(stages[s], tape));

  MTINetOutput out;
  out.initial.resize(4);
  std::vector<std::vector<at::Tensor>> phi(4);
  std::vector<at::Tensor> propagated;  // FPM output of the coarser scale, per task
  for (int s = 3; s >= 0; --s) {
    auto r = scales_[s]->forward(x[s], propagated, tape, initial_predictions);
    out.initial[s] = std::move(r.predictions);
    phi[s] = std::move(r.features);
    if (s > 0) propagated = fpms_[s]->forward(phi[s], tape);
  }

  std::vector<std::vector<at::Tensor>> distilled(4);
  for (size_t s = 0; s < 4; ++s) distilled[s] = distillation_[s]->forward(phi[s]);

  const auto size0 = spatial_size(distilled[0].front());
  for (size_t t = 0; t < tasks_.size(); ++t) {
    auto concat = at::cat({distilled[0][t], resize_bilinear(distilled[1][t], size0),
                           resize_bilinear(distilled[2][t], size0), resize_bilinear(distilled[3][t], size0)},
                          1);
    auto hidden = heads_[t]->hidden(concat, tape);
    out.outputs.push_back(heads_[t]->classify(hidden));
    out.task_features.push_back(options_.aggregated_task_features ? hidden : concat);
  }
  return out;
}

}  // namespace s4t::mtinet
