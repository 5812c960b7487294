#pragma once
// The S4T method driven through the SDK interface on models of the test's own: a model with only the
// static facts (parameter counts at paper scale) and a small fake multi-task model (two convs + 1x1
// heads on 32x32 images). The method comes from the registered factory (test kit).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "s4t/method.hpp"
#include "s4t/model.hpp"
#include "s4t/norm.hpp"
#include "s4t_testkit/doctest.hpp"
#include "s4t_testkit/testkit.hpp"

namespace s4t::test {

/// The plugins of the build (the kit's search path).
const testkit::Plugins& plugins();
/// The s4t method from its factory: defaults plus `overrides` (model-free: modules come in attach()).
std::shared_ptr<TTTMethod> make_s4t(const std::map<std::string, Value>& overrides = {});
/// Small TBS for tests: 32x32 grid, 8x8 patches → 16 tokens, 4 visible at r = 0.75; narrow latents.
std::map<std::string, Value> tiny_options(std::map<std::string, Value> extra = {});

/// Only the static facts of a model (for parameter counts); no forward pass.
class InfoOnlyModel final : public MultiTaskModel {
 public:
  InfoOnlyModel(std::vector<TaskSpec> tasks, std::int64_t fused_channels);
  const std::vector<TaskSpec>& tasks() const override { return tasks_; }
  const FeatureInfo& feature_info() const override { return info_; }
  std::array<std::int64_t, 2> train_size() const override { return {256, 256}; }
  at::Device device() const override;
  ModelOutput forward(const at::Tensor&, const ForwardOptions&) override;
  Features features(const at::Tensor&, const ForwardOptions&) override;
  std::map<std::string, at::Tensor> predict(const Features&, std::array<std::int64_t, 2>) override;
  torch::nn::Module& root() override { return *root_; }

 private:
  std::vector<TaskSpec> tasks_;
  FeatureInfo info_;
  std::shared_ptr<torch::nn::Module> root_;
};

/// conv(3→8, s2) + BN + ReLU → conv(8→16, s2) + ReLU on 32x32 images; fused map = both stages resized to
/// (train/4)² and concatenated (24 channels); one 1x1 conv head per task, upsampled to the input.
/// With `per_task_features`, the backbone also gives each task its own map (the fused map, MTI-Net-like).
class FakeModel final : public MultiTaskModel {
 public:
  explicit FakeModel(std::vector<TaskSpec> tasks, bool per_task_features = false);
  ~FakeModel() override;
  /// The method's attach(), its module registered as "method", then the model's NormLayers.
  void attach(const std::shared_ptr<TTTMethod>& method);
  /// The BatchNorm layers, recorded after attach(): apply modes through this object.
  NormLayers& norm_layers() { return *norm_layers_; }

  const std::vector<TaskSpec>& tasks() const override { return tasks_; }
  const FeatureInfo& feature_info() const override { return info_; }
  std::array<std::int64_t, 2> train_size() const override { return {32, 32}; }
  at::Device device() const override;
  Features features(const at::Tensor& images, const ForwardOptions& = {}) override;
  std::map<std::string, at::Tensor> predict(const Features& f, std::array<std::int64_t, 2> size) override;
  ModelOutput forward(const at::Tensor& images, const ForwardOptions& options = {}) override;
  torch::nn::Module& root() override { return *root_; }

 private:
  struct Modules;
  std::vector<TaskSpec> tasks_;
  bool per_task_;
  FeatureInfo info_;
  std::shared_ptr<torch::nn::Module> root_;
  std::unique_ptr<Modules> modules_;
  std::shared_ptr<TTTMethod> method_;
  std::unique_ptr<NormLayers> norm_layers_;
};

struct Setup {
  std::shared_ptr<FakeModel> model;
  std::shared_ptr<TTTMethod> method;
};

/// A fake model (seeded) with s4t attached, built from tiny_options(overrides).
Setup make_setup(std::uint64_t seed, const std::map<std::string, Value>& overrides = {}, bool per_task = false);

std::int64_t count_with_prefix(torch::nn::Module& m, const std::string& prefix);
at::Tensor grad_of(torch::nn::Module& root, const std::string& name);
bool has_gradient(torch::nn::Module& root, const std::string& name);
void zero_grads(torch::nn::Module& root);

/// The adaptation loss with a fixed mask (the torch seed) under normalisation `mode`, without gradients;
/// Eval also puts root() in eval mode. The layers' momentum is left as built.
double adaptation_loss_value(Setup& s, const at::Tensor& images, std::uint64_t seed, NormMode mode);

}  // namespace s4t::test
