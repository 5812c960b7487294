#include "s4t/parameter_selection.hpp"

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/functional/instancenorm.h>
#include <torch/nn/modules/instancenorm.h>
#include <torch/nn/modules/normalization.h>

#include "s4t/error.hpp"

namespace s4t {

std::vector<std::string> encoder_prefixes_up_to(const FeatureInfo& info, std::int64_t last_stage,
                                                const std::string& who) {
  const auto n = static_cast<std::int64_t>(info.stages.size());
  if (last_stage < 0 || last_stage >= n)
    throw ConfigError(who + ": stage " + std::to_string(last_stage) + " does not exist; the backbone has " +
                      std::to_string(n) + " stages (0.." + std::to_string(n - 1) + ")");
  std::vector<std::string> out;
  for (std::int64_t k = 0; k <= last_stage; ++k) {
    const auto& stage = info.stages[static_cast<std::size_t>(k)];
    if (stage.parameter_prefixes.empty())
      throw ConfigError(who + ": the backbone publishes no parameter prefixes for stage " + std::to_string(k) +
                        " (FeatureInfo::stages[" + std::to_string(k) + "].parameter_prefixes), so the encoder up "
                        "to that stage cannot be selected");
    for (auto& p : stage.parameter_prefixes) out.push_back(kBackbonePrefix + p);
  }
  return out;
}

ParameterFilter select_prefixes(std::vector<std::string> prefixes) {
  return [prefixes = std::move(prefixes)](const std::string& name) {
    for (auto& p : prefixes)
      if (name.compare(0, p.size(), p) == 0) return true;
    return false;
  };
}

namespace {
bool is_norm_layer(torch::nn::Module* m) {
  return dynamic_cast<torch::nn::BatchNorm1dImpl*>(m) || dynamic_cast<torch::nn::BatchNorm2dImpl*>(m) ||
         dynamic_cast<torch::nn::BatchNorm3dImpl*>(m) || dynamic_cast<torch::nn::GroupNormImpl*>(m) ||
         dynamic_cast<torch::nn::LayerNormImpl*>(m) || dynamic_cast<torch::nn::InstanceNorm1dImpl*>(m) ||
         dynamic_cast<torch::nn::InstanceNorm2dImpl*>(m) || dynamic_cast<torch::nn::InstanceNorm3dImpl*>(m);
}
}  // namespace

std::set<std::string> norm_affine_parameter_names(torch::nn::Module& root, const std::string& under) {
  std::set<std::string> names;
  for (auto& item : root.named_modules(std::string(), /*include_self=*/false)) {
    if (!is_norm_layer(item.value().get())) continue;
    for (auto& p : item.value()->named_parameters(/*recurse=*/false)) {
      std::string full = item.key() + "." + p.key();
      if (full.compare(0, under.size(), under) == 0) names.insert(std::move(full));
    }
  }
  return names;
}

ParameterFilter select_names(std::set<std::string> names) {
  return [names = std::move(names)](const std::string& name) { return names.count(name) > 0; };
}

ParameterFilter select_either(ParameterFilter a, ParameterFilter b) {
  return [a = std::move(a), b = std::move(b)](const std::string& name) { return (a && a(name)) || (b && b(name)); };
}

}  // namespace s4t
