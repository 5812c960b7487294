// A complete task-head plugin: "dilated". A 3x3 dilated convolution, ReLU and a 1x1 convolution on the
// fused map (or the task's own features when the backbone provides them), resized to the input size.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>

#include <memory>
#include <string>

#include <s4t/error.hpp>
#include <s4t/head.hpp>
#include <s4t/option_binding.hpp>
#include <s4t/plugin.hpp>
#include <s4t/tensor_ops.hpp>

namespace {

struct Settings {
  std::int64_t hidden = 64;
  std::int64_t dilation = 2;
};

const s4t::Binding<Settings>& binding() {
  static const auto b = s4t::Binding<Settings>()
                            .integer("hidden", &Settings::hidden, 64, "channels of the dilated convolution", 1)
                            .integer("dilation", &Settings::dilation, 2, "dilation", 1, 16);
  return b;
}

// LibTorch idiom: an Impl module holding the layers, registered under stable names (they become
// "heads.<task>.conv_a.weight" in checkpoints).
struct DilatedImpl : torch::nn::Module {
  DilatedImpl(std::int64_t in, std::int64_t hidden, std::int64_t out, std::int64_t dilation) {
    conv_a = register_module("conv_a", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, hidden, 3).padding(dilation).dilation(dilation)));
    conv_b = register_module("conv_b", torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, out, 1)));
  }
  at::Tensor forward(const at::Tensor& x) { return conv_b->forward(conv_a->forward(x).relu()); }
  torch::nn::Conv2d conv_a{nullptr}, conv_b{nullptr};
};
TORCH_MODULE(Dilated);

class DilatedHead final : public s4t::TaskHead {
 public:
  DilatedHead(const s4t::TaskSpec& task, const s4t::FeatureInfo& info, const Settings& s) : task_(task.name) {
    auto own = info.task_feature_channels.find(task.name);
    use_task_features_ = own != info.task_feature_channels.end();
    const std::int64_t in = use_task_features_ ? own->second : info.fused_channels;
    if (in <= 0) throw s4t::PluginError("dilated head needs a fused map or per-task features");
    net_ = Dilated(in, s.hidden, task.channels, s.dilation);
  }
  std::shared_ptr<torch::nn::Module> module() override { return net_.ptr(); }
  at::Tensor forward(const s4t::Features& f, std::array<std::int64_t, 2> size) override {
    const at::Tensor& x = use_task_features_ ? f.task_features.at(task_) : f.fused;
    return s4t::resize_bilinear(net_->forward(x), size);
  }

 private:
  std::string task_;
  bool use_task_features_ = false;
  Dilated net_{nullptr};
};

void register_components(s4t::Registrar& registrar) {
  s4t::ComponentInfo info;
  info.name = "dilated";
  info.summary = "3x3 dilated conv + ReLU + 1x1 conv task head";
  info.schema = binding().schema();
  registrar.add_head(info, [](const s4t::BuildContext&, const s4t::TaskSpec& task, const s4t::FeatureInfo& features,
                              const s4t::Options& o) {
    return std::make_shared<DilatedHead>(task, features, binding().read(o));
  });
}

}  // namespace

S4T_PLUGIN("example.dilated_head", "1.0.0", register_components)
