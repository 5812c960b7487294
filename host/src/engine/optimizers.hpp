#pragma once
// Builds LibTorch optimizers from specs; the only engine file that instantiates optimizer templates.
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>

#include "s4t/optimizer.hpp"

namespace torch::optim { class Optimizer; }

namespace s4t::host {
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerSpec& spec, std::vector<at::Tensor> params);
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);
}  // namespace s4t::host
