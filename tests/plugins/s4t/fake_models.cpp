#include "fake_models.hpp"

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/utils.h>

#include <stdexcept>

#include "s4t/tensor_ops.hpp"

namespace s4t::test {

const testkit::Plugins& plugins() {
  static const testkit::Plugins p;
  return p;
}

std::shared_ptr<TTTMethod> make_s4t(const std::map<std::string, Value>& overrides) {
  return plugins().make_method("s4t", overrides);
}

std::map<std::string, Value> tiny_options(std::map<std::string, Value> extra) {
  std::map<std::string, Value> o{{"tbs_input_res", Value(std::int64_t{32})},
                                 {"patch_size", Value(std::int64_t{8})},
                                 {"embed_dim", Value(std::int64_t{32})},
                                 {"depth", Value(std::int64_t{2})},
                                 {"decoder_depth", Value(std::int64_t{1})},
                                 {"latent_channels", Value(std::int64_t{16})},
                                 {"mask_ratio", Value(0.75)}};
  for (auto& [k, v] : extra) o[k] = v;
  return o;
}

InfoOnlyModel::InfoOnlyModel(std::vector<TaskSpec> tasks, std::int64_t fused_channels)
    : tasks_(std::move(tasks)), root_(std::make_shared<torch::nn::Module>()) {
  info_.fused_channels = fused_channels;
  info_.fused_size = {64, 64};
}
at::Device InfoOnlyModel::device() const { return at::kCPU; }
ModelOutput InfoOnlyModel::forward(const at::Tensor&, const ForwardOptions&) { throw std::logic_error("info only"); }
Features InfoOnlyModel::features(const at::Tensor&, const ForwardOptions&) { throw std::logic_error("info only"); }
std::map<std::string, at::Tensor> InfoOnlyModel::predict(const Features&, std::array<std::int64_t, 2>) {
  throw std::logic_error("info only");
}

struct FakeModel::Modules {
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  std::map<std::string, torch::nn::Conv2d> heads;
};

FakeModel::FakeModel(std::vector<TaskSpec> tasks, bool per_task_features)
    : tasks_(std::move(tasks)), per_task_(per_task_features), modules_(std::make_unique<Modules>()) {
  root_ = std::make_shared<torch::nn::Module>("FakeModel");
  auto backbone = root_->register_module("backbone", std::make_shared<torch::nn::Module>("Backbone"));
  auto& m = *modules_;
  m.conv1 = backbone->register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 3).stride(2).padding(1)));
  m.bn1 = backbone->register_module("bn1", torch::nn::BatchNorm2d(8));
  m.conv2 = backbone->register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 16, 3).stride(2).padding(1)));
  auto heads = root_->register_module("heads", std::make_shared<torch::nn::Module>("Heads"));
  for (auto& t : tasks_)
    m.heads.emplace(t.name, heads->register_module(t.name, torch::nn::Conv2d(torch::nn::Conv2dOptions(24, t.channels, 1))));
  StageInfo c1, c2;
  c1.name = "C1";
  c1.channels = 8;
  c1.stride = 2;
  c1.parameter_prefixes = {"conv1.", "bn1."};
  c2.name = "C2";
  c2.channels = 16;
  c2.stride = 4;
  c2.parameter_prefixes = {"conv2."};
  info_.stages = {c1, c2};
  info_.fused_channels = 24;
  info_.fused_size = {8, 8};
  if (per_task_)
    for (auto& t : tasks_) info_.task_feature_channels[t.name] = 24;
}

FakeModel::~FakeModel() = default;

void FakeModel::attach(const std::shared_ptr<TTTMethod>& method) {
  method_ = method;
  method->attach(*this);
  if (auto m = method->module()) root_->register_module("method", m);
  norm_layers_ = std::make_unique<NormLayers>(*root_);
}

at::Device FakeModel::device() const { return at::kCPU; }

Features FakeModel::features(const at::Tensor& images, const ForwardOptions&) {
  auto& m = *modules_;
  Features f;
  auto c1 = m.bn1->forward(m.conv1->forward(images)).relu();
  auto c2 = m.conv2->forward(c1).relu();
  f.stages = {c1, c2};
  f.fused = at::cat({resize_bilinear(c1, info_.fused_size), resize_bilinear(c2, info_.fused_size)}, 1);
  if (per_task_)
    for (auto& t : tasks_) f.task_features[t.name] = f.fused;
  return f;
}

std::map<std::string, at::Tensor> FakeModel::predict(const Features& f, std::array<std::int64_t, 2> size) {
  std::map<std::string, at::Tensor> out;
  for (auto& t : tasks_) out[t.name] = resize_bilinear(modules_->heads.at(t.name)->forward(f.fused), size);
  return out;
}

ModelOutput FakeModel::forward(const at::Tensor& images, const ForwardOptions& options) {
  ModelOutput out;
  out.features = features(images, options);
  out.predictions = predict(out.features, spatial_size(images));
  return out;
}

Setup make_setup(std::uint64_t seed, const std::map<std::string, Value>& overrides, bool per_task) {
  at::manual_seed(seed);
  Setup s;
  s.model = std::make_shared<FakeModel>(testkit::standard_tasks(3), per_task);
  s.method = make_s4t(tiny_options(overrides));
  s.model->attach(s.method);
  return s;
}

std::int64_t count_with_prefix(torch::nn::Module& m, const std::string& prefix) {
  std::int64_t n = 0;
  for (auto& p : m.named_parameters(true))
    if (p.key().rfind(prefix, 0) == 0) n += p.value().numel();
  return n;
}

at::Tensor grad_of(torch::nn::Module& root, const std::string& name) {
  auto params = root.named_parameters(true);
  REQUIRE(params.contains(name));
  return params[name].grad();
}

bool has_gradient(torch::nn::Module& root, const std::string& name) {
  auto g = grad_of(root, name);
  return g.defined() && g.abs().sum().item<double>() > 0.0;
}

void zero_grads(torch::nn::Module& root) {
  for (auto& p : root.parameters(true))
    if (p.grad().defined()) p.mutable_grad() = at::Tensor();
}

double adaptation_loss_value(Setup& s, const at::Tensor& images, std::uint64_t seed, NormMode mode) {
  auto& root = s.model->root();
  if (mode == NormMode::Eval) root.eval(); else root.train();
  s.model->norm_layers().apply(mode);
  double value = 0.0;
  {
    at::NoGradGuard no_grad;
    at::manual_seed(seed);
    value = s.method->adaptation_loss(*s.model, images, AdaptContext{}).item<double>();
  }
  // A session created later records the momentum it finds: leave it as built.
  if (mode == NormMode::TrainFrozen) s.model->norm_layers().apply(NormMode::TrainUpdate);
  return value;
}

}  // namespace s4t::test
