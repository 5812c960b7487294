#include "s4t/norm.hpp"

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>

#include <type_traits>

#include "s4t/error.hpp"

namespace s4t {

std::string to_string(NormMode mode) {
  switch (mode) {
    case NormMode::TrainUpdate: return "train_update";
    case NormMode::TrainFrozen: return "train_frozen";
    case NormMode::Eval: return "eval";
  }
  return "?";
}

std::vector<std::string> norm_mode_names() { return {"train_update", "train_frozen", "eval"}; }

NormMode norm_mode_from_string(const std::string& text) {
  if (text == "train_update") return NormMode::TrainUpdate;
  if (text == "train_frozen") return NormMode::TrainFrozen;
  if (text == "eval") return NormMode::Eval;
  throw ConfigError("unknown normalisation mode '" + text + "'; expected train_update, train_frozen or eval");
}

// c10::optional<double> in LibTorch 1.x, std::optional<double> in 2.x.
using Momentum = std::decay_t<decltype(std::declval<torch::nn::BatchNormOptions&>().momentum())>;

// One BatchNorm layer: its module, its momentum option and the value it was built with.
struct NormLayers::Layer {
  torch::nn::Module* module;
  Momentum* momentum;  // the layer's own options.momentum()
  Momentum built;      // as built
};

NormLayers::NormLayers(torch::nn::Module& root) {
  auto visit = [&](torch::nn::Module& m) {
    auto add = [&](auto* bn) {
      if (!bn) return false;
      layers_.push_back(Layer{&m, &bn->options.momentum(), bn->options.momentum()});
      return true;
    };
    add(dynamic_cast<torch::nn::BatchNorm2dImpl*>(&m)) || add(dynamic_cast<torch::nn::BatchNorm1dImpl*>(&m)) ||
        add(dynamic_cast<torch::nn::BatchNorm3dImpl*>(&m));
  };
  visit(root);
  for (auto& child : root.modules(/*include_self=*/false)) visit(*child);
}

NormLayers::~NormLayers() = default;
NormLayers::NormLayers(NormLayers&&) noexcept = default;
NormLayers& NormLayers::operator=(NormLayers&&) noexcept = default;

void NormLayers::apply(NormMode mode) {
  for (auto& l : layers_) {
    if (mode == NormMode::Eval) l.module->eval(); else l.module->train();
    // TrainFrozen: running = (1 - 0)·running + 0·batch, i.e. unchanged; the other modes restore the
    // momentum the layer was built with.
    *l.momentum = mode == NormMode::TrainFrozen ? Momentum(0.0) : l.built;
  }
}

std::size_t NormLayers::size() const { return layers_.size(); }

}  // namespace s4t
