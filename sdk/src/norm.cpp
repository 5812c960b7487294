#include "s4t/norm.hpp"

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>

#include <mutex>
#include <unordered_map>

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

NormMode norm_mode_from_string(const std::string& text) {
  if (text == "train_update") return NormMode::TrainUpdate;
  if (text == "train_frozen") return NormMode::TrainFrozen;
  if (text == "eval") return NormMode::Eval;
  throw ConfigError("unknown normalisation mode '" + text + "'; expected train_update, train_frozen or eval");
}

namespace {
// The momentum a layer was built with, remembered the first time TrainFrozen sets it to 0, so the
// other modes can restore it. Keyed by layer address; layers are never moved once built.
std::mutex built_momentum_mutex;
std::unordered_map<const void*, double> built_momentum;

template <typename Impl>
bool apply_to(torch::nn::Module& m, NormMode mode) {
  auto* bn = dynamic_cast<Impl*>(&m);
  if (!bn) return false;
  if (mode == NormMode::Eval) bn->eval(); else bn->train();
  auto& momentum = bn->options.momentum();
  std::lock_guard<std::mutex> lock(built_momentum_mutex);
  if (mode == NormMode::TrainFrozen) {
    if (momentum && *momentum != 0.0) built_momentum[bn] = *momentum;
    bn->options.momentum(0.0);  // running = (1 - 0)·running + 0·batch: unchanged
  } else if (auto it = built_momentum.find(bn); it != built_momentum.end()) {
    bn->options.momentum(it->second);
  }
  return true;
}
}  // namespace

void apply_norm_mode(torch::nn::Module& root, NormMode mode) {
  auto visit = [&](torch::nn::Module& m) {
    apply_to<torch::nn::BatchNorm2dImpl>(m, mode) || apply_to<torch::nn::BatchNorm1dImpl>(m, mode) ||
        apply_to<torch::nn::BatchNorm3dImpl>(m, mode);
  };
  visit(root);
  for (auto& child : root.modules(/*include_self=*/false)) visit(*child);
}

}  // namespace s4t
