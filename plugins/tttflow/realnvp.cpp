#include "realnvp.hpp"

#include <ATen/ATen.h>
#include <torch/nn/modules/conv.h>

#include <cmath>
#include <string>

namespace s4t::tttflow {

// ---------------------------------------------------------------------------------------------------
WNConv2dImpl::WNConv2dImpl(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t padding)
    : padding_(padding) {
  // nn.Conv2d's default initialisation, then g = ‖v‖ per output channel (what weight_norm does).
  at::NoGradGuard no_grad;
  torch::nn::Conv2d init(torch::nn::Conv2dOptions(in, out, kernel).padding(padding).bias(true));
  at::Tensor v = init->weight.detach().clone();
  at::Tensor g = v.flatten(1).norm(2, {1}).view({out, 1, 1, 1}).clone();
  weight_v = register_parameter("weight_v", v);
  weight_g = register_parameter("weight_g", g);
  bias = register_parameter("bias", init->bias.detach().clone());
}

at::Tensor WNConv2dImpl::weight() const {
  const auto out = weight_v.size(0);
  at::Tensor norm = weight_v.flatten(1).norm(2, {1}).view({out, 1, 1, 1});
  return weight_v * (weight_g / norm);
}

at::Tensor WNConv2dImpl::forward(const at::Tensor& x) { return at::conv2d(x, weight(), bias, 1, padding_); }

// ---------------------------------------------------------------------------------------------------
ResidualBlockImpl::ResidualBlockImpl(std::int64_t dim, bool bottleneck) {
  in_norm = register_module("in_norm", torch::nn::BatchNorm2d(dim));
  std::vector<std::pair<std::int64_t, std::int64_t>> shapes =  // (kernel, padding)
      bottleneck ? std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 0}, {3, 1}, {1, 0}}
                 : std::vector<std::pair<std::int64_t, std::int64_t>>{{3, 1}, {3, 1}};
  for (size_t i = 0; i < shapes.size(); ++i) {
    convs_.push_back(register_module("conv" + std::to_string(i), WNConv2d(dim, dim, shapes[i].first, shapes[i].second)));
    if (i + 1 < shapes.size()) norms_.push_back(register_module("norm" + std::to_string(i), torch::nn::BatchNorm2d(dim)));
  }
}

at::Tensor ResidualBlockImpl::forward(const at::Tensor& x) {
  at::Tensor h = at::relu(in_norm->forward(x));
  for (size_t i = 0; i < convs_.size(); ++i) {
    h = convs_[i]->forward(h);
    if (i < norms_.size()) h = at::relu(norms_[i]->forward(h));
  }
  return x + h;
}

// ---------------------------------------------------------------------------------------------------
ResModuleImpl::ResModuleImpl(std::int64_t in, std::int64_t dim, std::int64_t out, std::int64_t blocks, bool bottleneck) {
  in_conv = register_module("in_conv", WNConv2d(in, dim, 3, 1));
  for (std::int64_t i = 0; i < blocks; ++i)
    blocks_.push_back(register_module("block" + std::to_string(i), ResidualBlock(dim, bottleneck)));
  out_norm = register_module("out_norm", torch::nn::BatchNorm2d(dim));
  out_conv = register_module("out_conv", WNConv2d(dim, out, 1, 0));
}

at::Tensor ResModuleImpl::forward(const at::Tensor& x) {
  at::Tensor h = in_conv->forward(x);
  for (auto& b : blocks_) h = b->forward(h);
  return out_conv->forward(at::relu(out_norm->forward(h)));
}

// ---------------------------------------------------------------------------------------------------
CouplingImpl::CouplingImpl(std::int64_t channels, std::int64_t dim, std::int64_t blocks, bool bottleneck, int parity)
    : parity_(parity) {
  net = register_module("net", ResModule(channels, dim, 2 * channels, blocks, bottleneck));
  scale_scale = register_parameter("scale_scale", at::zeros({1}));
  shift_scale = register_parameter("shift_scale", at::zeros({1}));
}

std::pair<at::Tensor, at::Tensor> CouplingImpl::forward(const at::Tensor& x) {
  const auto h = x.size(2), w = x.size(3);
  auto opts = x.options();
  at::Tensor mask = at::remainder(at::arange(h, opts).view({h, 1}) + at::arange(w, opts).view({1, w}) + parity_, 2.0)
                        .view({1, 1, h, w});
  at::Tensor keep = 1.0 - mask;
  auto st = net->forward(x * mask).chunk(2, 1);
  at::Tensor log_scale = (at::tanh(st[0]) * scale_scale + shift_scale) * keep;
  at::Tensor shift = st[1] * keep;
  return {x * at::exp(log_scale) + shift, log_scale};
}

// ---------------------------------------------------------------------------------------------------
ActNormImpl::ActNormImpl(std::int64_t channels) {
  log_scale = register_parameter("log_scale", at::zeros({1, channels, 1, 1}));
  shift = register_parameter("shift", at::zeros({1, channels, 1, 1}));
  initialised = register_buffer("initialised", at::zeros({1}));
}

std::pair<at::Tensor, at::Tensor> ActNormImpl::forward(const at::Tensor& x) {
  // The flag is only read in training mode (one host sync per post-training step, none at test time).
  if (is_training() && initialised.item<float>() == 0.0f) {
    at::NoGradGuard no_grad;
    at::Tensor mean = x.mean({0, 2, 3}, /*keepdim=*/true);
    at::Tensor std = x.std({0, 2, 3}, /*unbiased=*/true, /*keepdim=*/true).clamp_min(1e-6);
    log_scale.copy_(-at::log(std));
    shift.copy_(-mean / std);
    initialised.fill_(1.0);
  }
  return {x * at::exp(log_scale) + shift, log_scale};
}

// ---------------------------------------------------------------------------------------------------
RealNVPImpl::RealNVPImpl(const FlowOptions& o) {
  c0 = register_module("coupling0", Coupling(o.channels, o.hidden, o.blocks, o.bottleneck, 1));
  n0 = register_module("actnorm0", ActNorm(o.channels));
  c1 = register_module("coupling1", Coupling(o.channels, o.hidden, o.blocks, o.bottleneck, 0));
  n1 = register_module("actnorm1", ActNorm(o.channels));
  c2 = register_module("coupling2", Coupling(o.channels, o.hidden, o.blocks, o.bottleneck, 1));
}

std::pair<at::Tensor, at::Tensor> RealNVPImpl::forward(const at::Tensor& x) {
  auto [z, logdet] = c0->forward(x);
  auto add = [&](std::pair<at::Tensor, at::Tensor> r) {
    z = r.first;
    logdet = logdet + r.second;  // ActNorm's (1,C,1,1) log-scale broadcasts over every element
  };
  add(n0->forward(z));
  add(c1->forward(z));
  add(n1->forward(z));
  add(c2->forward(z));
  return {z, logdet};
}

at::Tensor RealNVPImpl::nll(const at::Tensor& x) {
  auto [z, logdet] = forward(x);
  static const double half_log_2pi = 0.5 * std::log(2.0 * M_PI);
  at::Tensor log_prob = -0.5 * z.pow(2) - half_log_2pi + logdet;
  return -log_prob.mean();
}

}  // namespace s4t::tttflow
