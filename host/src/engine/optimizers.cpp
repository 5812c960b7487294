#include "engine/optimizers.hpp"

#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include "s4t/error.hpp"

namespace s4t::host {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerSpec& spec, std::vector<at::Tensor> params) {
  if (spec.name == "sgd") {
    torch::optim::SGDOptions o(spec.lr);
    o.momentum(spec.momentum).nesterov(spec.nesterov).weight_decay(spec.weight_decay);
    if (spec.nesterov && spec.momentum <= 0.0)
      throw ConfigError("SGD with nesterov = true needs momentum > 0");
    return std::make_unique<torch::optim::SGD>(std::move(params), o);
  }
  if (spec.name == "adam") {
    torch::optim::AdamOptions o(spec.lr);
    o.betas({spec.beta1, spec.beta2}).weight_decay(spec.weight_decay);
    return std::make_unique<torch::optim::Adam>(std::move(params), o);
  }
  throw ConfigError("unknown optimizer '" + spec.name + "'; expected sgd or adam");
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

}  // namespace s4t::host
