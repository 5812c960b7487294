#include "engine/composite_model.hpp"

#include <torch/nn/module.h>

#include "engine/contracts.hpp"
#include "s4t/error.hpp"
#include "s4t/tensor_ops.hpp"

namespace s4t::host {

CompositeModel::CompositeModel(std::vector<TaskSpec> tasks, std::array<std::int64_t, 2> train_size,
                               std::shared_ptr<Backbone> backbone,
                               std::map<std::string, std::shared_ptr<TaskHead>> heads)
    : tasks_(std::move(tasks)), train_size_(train_size), backbone_(std::move(backbone)), heads_(std::move(heads)) {
  root_ = std::make_shared<torch::nn::Module>("MultiTaskModel");
  info_ = backbone_->info();
  root_->register_module("backbone", backbone_->module());
  auto holder = std::make_shared<torch::nn::Module>("TaskHeads");
  for (auto& t : tasks_) {
    auto it = heads_.find(t.name);
    if (it != heads_.end()) holder->register_module(t.name, it->second->module());
  }
  root_->register_module("heads", holder);
}

void CompositeModel::attach_method(std::shared_ptr<TTTMethod> method) {
  method_ = std::move(method);
  method_->attach(*this);
  if (auto m = method_->module()) {
    m->to(device_);
    root_->register_module("method", m);
  }
}

void CompositeModel::to(const at::Device& device) {
  device_ = device;
  root_->to(device);
}

Features CompositeModel::features(const at::Tensor& images, const ForwardOptions& options) {
  auto f = backbone_->forward(images, options);
  check_features(backbone_label_, info_, f, images, options);
  return f;
}

std::map<std::string, at::Tensor> CompositeModel::predict(const Features& features,
                                                          std::array<std::int64_t, 2> output_size) {
  std::map<std::string, at::Tensor> out;
  for (auto& t : tasks_) {
    if (info_.provides_predictions) {
      auto it = features.task_predictions.find(t.name);
      if (it == features.task_predictions.end())
        throw PluginError("backbone promised predictions but gave none for task '" + t.name + "'");
      out[t.name] = resize_bilinear(it->second, output_size);
    } else {
      out[t.name] = heads_.at(t.name)->forward(features, output_size);
    }
    check_prediction(info_.provides_predictions ? backbone_label_ : head_label_, t, out[t.name],
                     features.stages.empty() ? out[t.name] : features.stages.front(), output_size);
  }
  return out;
}

ModelOutput CompositeModel::forward(const at::Tensor& images, const ForwardOptions& options) {
  ModelOutput out;
  out.features = features(images, options);
  out.predictions = predict(out.features, spatial_size(images));
  return out;
}

std::map<std::string, std::int64_t> CompositeModel::parameter_counts() const {
  std::map<std::string, std::int64_t> counts{{"backbone", 0}, {"heads", 0}, {"method", 0}, {"total", 0}};
  for (auto& p : root_->named_parameters(true)) {
    auto group = p.key().substr(0, p.key().find('.'));
    counts[group] += p.value().numel();
    counts["total"] += p.value().numel();
  }
  return counts;
}

}  // namespace s4t::host
