// Out-of-line destructors (key functions) and default behaviours of the plugin interfaces.
#include <torch/nn/module.h>

#include "s4t/backbone.hpp"
#include "s4t/dataset.hpp"
#include "s4t/head.hpp"
#include "s4t/losses.hpp"
#include "s4t/method.hpp"
#include "s4t/model.hpp"
#include "s4t/registrar.hpp"

namespace s4t {

Backbone::~Backbone() = default;
TaskHead::~TaskHead() = default;
MultiTaskModel::~MultiTaskModel() = default;
Dataset::~Dataset() = default;
Registrar::~Registrar() = default;
TTTMethod::~TTTMethod() = default;

std::string Dataset::describe() const { return "dataset of " + std::to_string(size()) + " samples"; }

void TTTMethod::attach(MultiTaskModel&) {}
std::shared_ptr<torch::nn::Module> TTTMethod::module() { return nullptr; }
at::Tensor TTTMethod::source_objective(MultiTaskModel& model, const Batch&, const ModelOutput&,
                                       const std::map<std::string, at::Tensor>& main_losses) {
  return weighted_sum(model.tasks(), main_losses);
}
void TTTMethod::after_source_training(MultiTaskModel&, BatchStream&) {}
void TTTMethod::begin_adaptation(MultiTaskModel&) {}
std::map<std::string, at::Tensor> TTTMethod::task_latents(MultiTaskModel& model, const at::Tensor& images) {
  return model.features(images).task_features;
}

std::vector<std::int64_t> FeatureInfo::stage_channels() const {
  std::vector<std::int64_t> out;
  for (auto& s : stages) out.push_back(s.channels);
  return out;
}

std::vector<std::int64_t> FeatureInfo::stage_strides() const {
  std::vector<std::int64_t> out;
  for (auto& s : stages) out.push_back(s.stride);
  return out;
}

std::string to_string(ComponentKind kind) {
  switch (kind) {
    case ComponentKind::Backbone: return "backbone";
    case ComponentKind::Head: return "head";
    case ComponentKind::Method: return "method";
    case ComponentKind::Dataset: return "dataset";
  }
  return "?";
}

}  // namespace s4t
