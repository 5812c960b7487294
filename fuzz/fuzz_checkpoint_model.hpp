#pragma once
// The tiny model the checkpoint target loads into (and make_seeds saves): "model.backbone.weight",
// "model.backbone.bias", "model.head.weight", "model.head.bias" and the integer buffer "model.steps".
#include <ATen/ops/zeros.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <memory>

namespace s4t::fuzz {

inline std::shared_ptr<torch::nn::Module> make_checkpoint_model() {
  auto m = std::make_shared<torch::nn::Module>();
  m->register_module("backbone", torch::nn::Linear(3, 4));
  m->register_module("head", torch::nn::Linear(4, 2));
  m->register_buffer("steps", at::zeros({1}, at::TensorOptions().dtype(at::kLong)));
  return m;
}

}  // namespace s4t::fuzz
