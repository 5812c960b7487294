#pragma once
// The host's MultiTaskModel: a backbone, one head per task (unless the backbone predicts itself) and
// the method's modules, under one root module named as the SDK documents.
#include <memory>
#include <vector>

#include "s4t/backbone.hpp"
#include "s4t/head.hpp"
#include "s4t/method.hpp"
#include "s4t/model.hpp"

namespace s4t::host {

class CompositeModel final : public MultiTaskModel {
 public:
  CompositeModel(std::vector<TaskSpec> tasks, std::array<std::int64_t, 2> train_size,
                 std::shared_ptr<Backbone> backbone, std::map<std::string, std::shared_ptr<TaskHead>> heads);

  /// Registers the method's module (if any) as "method" and keeps the method alive.
  void attach_method(std::shared_ptr<TTTMethod> method);
  /// Moves every parameter and buffer to `device`.
  void to(const at::Device& device);

  const std::vector<TaskSpec>& tasks() const override { return tasks_; }
  const FeatureInfo& feature_info() const override { return info_; }
  std::array<std::int64_t, 2> train_size() const override { return train_size_; }
  at::Device device() const override { return device_; }
  ModelOutput forward(const at::Tensor& images, const ForwardOptions& options = {}) override;
  Features features(const at::Tensor& images, const ForwardOptions& options = {}) override;
  std::map<std::string, at::Tensor> predict(const Features& features, std::array<std::int64_t, 2> output_size) override;
  torch::nn::Module& root() override { return *root_; }
  std::shared_ptr<torch::nn::Module> root_ptr() { return root_; }

  /// How errors name the backbone and the heads ("backbone 'resnet' (/path/resnet.so)").
  void set_labels(std::string backbone, std::string head) {
    backbone_label_ = std::move(backbone);
    head_label_ = std::move(head);
  }

  /// Parameter counts: "backbone", "heads", "method" and "total".
  std::map<std::string, std::int64_t> parameter_counts() const;

 private:
  std::vector<TaskSpec> tasks_;
  std::array<std::int64_t, 2> train_size_;
  std::shared_ptr<Backbone> backbone_;
  std::map<std::string, std::shared_ptr<TaskHead>> heads_;
  std::shared_ptr<TTTMethod> method_;
  std::shared_ptr<torch::nn::Module> root_;
  FeatureInfo info_;
  at::Device device_ = at::Device(at::kCPU);
  std::string backbone_label_ = "backbone", head_label_ = "head";
};

}  // namespace s4t::host
