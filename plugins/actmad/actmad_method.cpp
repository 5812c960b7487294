// ActMAD (Mirza et al., CVPR 2023; docs/methods.md#actmad): align the location-aware (C×H×W) mean and
// variance over the batch of every BatchNorm output with statistics gathered on source data.
//
// Multi-task adaptation [RECON]: identical to the original — every normalisation output the backbone
// records (ForwardOptions::record_norm_outputs, in forward order; the backbone decides which: a ResNet
// records all of its BatchNorm layers, stem and downsample ones included) is matched; all network
// parameters adapt, BatchNorm in eval mode.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "s4t/error.hpp"
#include "s4t/log.hpp"
#include "s4t/method.hpp"
#include "s4t/option_binding.hpp"
#include "s4t/optimizer.hpp"
#include "s4t/parameter_selection.hpp"
#include "s4t/plugin.hpp"
#include "s4t/tensor_ops.hpp"

namespace {

enum class SizeMismatch { ResizeStatistics, ResizeInput, Error };

// Options of [method.actmad]; keys and defaults in binding().
struct Settings {
  SizeMismatch size_mismatch;
  bool backbone_only;  // params = "backbone"
  s4t::OptimizerSpec optimizer;
};

const s4t::Binding<Settings>& binding() {
  static const auto b = [] {
    s4t::OptimizerSpec d;
    d.name = "sgd";
    d.lr = 2.5e-4;
    d.momentum = 0.9;
    d.nesterov = true;
    d.weight_decay = 5e-4;
    return s4t::Binding<Settings>()
        .choice("size_mismatch", &Settings::size_mismatch, "resize_statistics",
                {{"resize_statistics", SizeMismatch::ResizeStatistics},
                 {"resize_input", SizeMismatch::ResizeInput},
                 {"error", SizeMismatch::Error}},
                "test size != statistics size: resize the statistics, resize the input, or error")
        .choice("params", &Settings::backbone_only, "all", {{"all", false}, {"backbone", true}},
                "parameters that adapt: all network parameters, or the backbone only")
        .group(&Settings::optimizer, s4t::optimizer_binding(d));
  }();
  return b;
}

// Restores every module's train/eval flag when it goes out of scope.
class TrainingFlags {
 public:
  explicit TrainingFlags(torch::nn::Module& root) {
    for (auto& m : root.modules(/*include_self=*/true)) flags_.emplace_back(m, m->is_training());
  }
  ~TrainingFlags() {
    for (auto& [m, training] : flags_) m->train(training);
  }

 private:
  std::vector<std::pair<std::shared_ptr<torch::nn::Module>, bool>> flags_;
};

// Bilinear resize of a C×H×W map to (h, w) (no-op when it already matches).
at::Tensor resize_map(const at::Tensor& map, std::array<std::int64_t, 2> size) {
  if (map.size(1) == size[0] && map.size(2) == size[1]) return map;
  return s4t::resize_bilinear(map.unsqueeze(0), size).squeeze(0);
}

// Source statistics, one (mean, var) pair of C×H×W buffers per recorded normalisation output.
// Buffers, not parameters: saved in checkpoints, never optimised.
class ActMadStatistics : public torch::nn::Module {
 public:
  ActMadStatistics() : torch::nn::Module("ActMadStatistics") {}

  void build(const std::vector<at::Tensor>& norm_outputs) {
    for (size_t i = 0; i < norm_outputs.size(); ++i) {
      auto shape = norm_outputs[i].sizes().slice(1).vec();  // C×H×W
      means.push_back(register_buffer("mean_" + std::to_string(i), at::zeros(shape)));
      vars.push_back(register_buffer("var_" + std::to_string(i), at::ones(shape)));
    }
    batches = register_buffer("batches", at::zeros({}, at::TensorOptions().dtype(at::kLong)));
  }

  // The registered tensors: Module::to() and checkpoint loads change them in place (set_data / copy_).
  const at::Tensor& mean(size_t i) const { return means[i]; }
  const at::Tensor& var(size_t i) const { return vars[i]; }
  const at::Tensor& count() const { return batches; }
  size_t layers() const { return means.size(); }

 private:
  std::vector<at::Tensor> means, vars;
  at::Tensor batches;
};

class ActMad final : public s4t::TTTMethod {
 public:
  explicit ActMad(Settings s) : s_(std::move(s)) {}

  void attach(s4t::MultiTaskModel& model) override {
    // The buffers must exist with their final shapes before a checkpoint is loaded, so find the shapes
    // of the normalisation outputs at the training size with one dry forward pass (eval, no grad).
    const auto size = model.train_size();
    if (size[0] <= 0 || size[1] <= 0) throw s4t::ConfigError("actmad: the model has no training image size");
    std::vector<at::Tensor> outputs;
    {
      TrainingFlags keep(model.root());
      at::NoGradGuard no_grad;
      model.root().eval();
      auto probe = at::zeros({1, 3, size[0], size[1]}, at::TensorOptions().device(model.device()));
      outputs = model.features(probe, record_options()).norm_outputs;
    }
    if (outputs.empty())
      throw s4t::PluginError("actmad: the backbone records no normalisation outputs "
                             "(ForwardOptions::record_norm_outputs); ActMAD needs them");
    stats_ = std::make_shared<ActMadStatistics>();
    stats_->build(outputs);
  }

  std::shared_ptr<torch::nn::Module> module() override { return stats_; }

  void after_source_training(s4t::MultiTaskModel& model, s4t::BatchStream& source) override {
    require_attached();
    resized_.clear();
    TrainingFlags keep(model.root());
    at::NoGradGuard no_grad;
    model.root().eval();
    const size_t n = stats_->layers();
    std::vector<at::Tensor> mean_sum(n), var_sum(n);
    std::int64_t batches = 0, skipped = 0;
    source.restart();
    s4t::Batch batch;
    while (source.next(batch)) {
      if (batch.size() < 2) {  // the variance over the batch needs two samples
        ++skipped;
        continue;
      }
      auto outputs = model.features(batch.images, record_options()).norm_outputs;
      check_layers(outputs.size());
      for (size_t i = 0; i < n; ++i) {
        auto target_shape = stats_->mean(i).sizes();
        auto m = resize_map(outputs[i].mean(0), {target_shape[1], target_shape[2]});
        auto v = resize_map(outputs[i].var({0}, /*unbiased=*/true, /*keepdim=*/false), {target_shape[1], target_shape[2]});
        mean_sum[i] = mean_sum[i].defined() ? mean_sum[i].add_(m) : m.clone();
        var_sum[i] = var_sum[i].defined() ? var_sum[i].add_(v) : v.clone();
      }
      ++batches;
    }
    if (batches == 0)
      throw s4t::DataError("actmad: no source batch of at least 2 images to collect statistics from");
    if (skipped > 0) s4t::log::warn("actmad: skipped {} source batches of a single image", skipped);
    for (size_t i = 0; i < n; ++i) {
      stats_->mean(i).copy_(mean_sum[i].div(static_cast<double>(batches)));
      stats_->var(i).copy_(var_sum[i].div(static_cast<double>(batches)));
    }
    stats_->count().fill_(batches);
    s4t::log::info("actmad: source statistics of {} normalisation outputs from {} batches", n, batches);
  }

  s4t::AdaptationPolicy adaptation_policy(s4t::MultiTaskModel&) override {
    s4t::AdaptationPolicy p;
    // All network parameters (the method module has only buffers). Heads receive no gradient from the
    // loss (it only sees backbone normalisation outputs), so they stay as they are either way.
    if (s_.backbone_only) {
      p.selects = s4t::select_prefixes({s4t::kBackbonePrefix});
    } else {
      p.selects = [method = s4t::select_prefixes({s4t::kMethodPrefix})](const std::string& name) {
        return !method(name);
      };
    }
    // ActMAD: model in train mode but every BatchNorm in eval mode (source running statistics).
    p.adapt_norm = s4t::NormMode::Eval;
    p.predict_norm = s4t::NormMode::Eval;
    p.optimizer = s_.optimizer;
    return p;
  }

  void begin_adaptation(s4t::MultiTaskModel&) override {
    require_attached();
    resized_.clear();  // the statistics may have been reloaded or moved to another device
    if (stats_->count().item<std::int64_t>() == 0)
      throw s4t::Error("actmad: the checkpoint holds no source statistics (method.batches = 0); they are "
                       "collected after source training (`s4t train` runs the post-training stage)");
  }

  at::Tensor adaptation_loss(s4t::MultiTaskModel& model, const at::Tensor& images, const s4t::AdaptContext&) override {
    require_attached();
    at::Tensor input = images;
    const auto train = model.train_size();
    const auto size = s4t::spatial_size(images);
    if (size != train) {
      if (s_.size_mismatch == SizeMismatch::Error)
        throw s4t::DataError("actmad: test images are " + std::to_string(size[0]) + "x" + std::to_string(size[1]) +
                             " but the source statistics are for " + std::to_string(train[0]) + "x" +
                             std::to_string(train[1]) + " inputs (size_mismatch = \"error\")");
      if (s_.size_mismatch == SizeMismatch::ResizeInput) input = s4t::resize_bilinear(images, train);
    }
    auto outputs = model.features(input, record_options()).norm_outputs;
    check_layers(outputs.size());
    const bool with_var = input.size(0) >= 2;
    if (!with_var && !warned_single_) {
      s4t::log::warn("actmad: a test batch of one image has no variance; only the means are aligned");
      warned_single_ = true;
    }
    if (resized_.size() != outputs.size()) resized_.assign(outputs.size(), {});
    at::Tensor mean_loss, var_loss;
    for (size_t i = 0; i < outputs.size(); ++i) {
      const auto& out = outputs[i];
      auto& source = resized_[i];
      const std::array<std::int64_t, 2> hw{out.size(2), out.size(3)};
      if (!source.mean.defined() || source.size != hw)  // statistics are constant: resize once per size
        source = {hw, resize_map(stats_->mean(i), hw), resize_map(stats_->var(i), hw)};
      auto dm = at::l1_loss(out.mean(0), source.mean);
      mean_loss = mean_loss.defined() ? mean_loss.add(dm) : dm;
      if (with_var) {
        auto dv = at::l1_loss(out.var({0}, /*unbiased=*/true, /*keepdim=*/false), source.var);
        var_loss = var_loss.defined() ? var_loss.add(dv) : dv;
      }
    }
    auto loss = with_var ? mean_loss.add(var_loss) : mean_loss;
    return loss.mul(0.5);
  }

 private:
  static s4t::ForwardOptions record_options() {
    s4t::ForwardOptions fo;
    fo.record_norm_outputs = true;
    fo.stages_only = true;  // the fused map and heads do not contribute normalisation outputs
    return fo;
  }
  void require_attached() const {
    if (!stats_) throw s4t::PluginError("actmad: used before attach()");
  }
  void check_layers(size_t recorded) const {
    if (recorded != stats_->layers())
      throw s4t::PluginError("actmad: the backbone recorded " + std::to_string(recorded) +
                             " normalisation outputs but the statistics hold " + std::to_string(stats_->layers()));
  }

  // Source statistics at the size of the last test batch's normalisation outputs.
  struct Resized {
    std::array<std::int64_t, 2> size{0, 0};
    at::Tensor mean, var;
  };

  Settings s_;
  std::shared_ptr<ActMadStatistics> stats_;
  std::vector<Resized> resized_;
  bool warned_single_ = false;
};

void register_actmad(s4t::Registrar& r) {
  s4t::ComponentInfo info;
  info.name = "actmad";
  info.summary = "ActMAD: align location-aware means/variances of every BatchNorm output with source statistics";
  info.doc =
      "ActMAD (Mirza et al., CVPR 2023; docs/methods.md#actmad). No parameters are added (the base network's count).\n"
      "Source statistics (post-training stage, run on the base checkpoint): with the model in eval mode, for "
      "every BatchNorm output l recorded by the backbone (ForwardOptions::record_norm_outputs; ResNet-50: 53 "
      "layers incl. the stem and downsample BNs, in forward order) and every source batch, the per-location "
      "mean and unbiased variance over the batch dimension (C x H x W maps), averaged over the batches. They are "
      "buffers method.mean_<l> / method.var_<l> (+ method.batches, the number of batches) and so saved in the "
      "method's checkpoint; their shapes come from one dry forward pass at the training size in attach(). "
      "Batches of a single image are skipped.\n"
      "Loss: 0.5 * sum_l [ mean|mu_l(target) - mu_l(source)| + mean|var_l(target) - var_l(source)| ] with the "
      "target statistics taken over the test batch (unbiased variance; a one-image batch aligns only means).\n"
      "Multi-task decision [RECON]: all normalisation outputs of the shared backbone, as in the original; BNs "
      "inside task heads are not recorded by the SDK (none exist with conv1x1 heads).\n"
      "Test size != source size (`size_mismatch`): the statistics are location-aware, so they need a fixed "
      "size. \"resize_statistics\" (default): each source mean/variance map is bilinearly resized (align_corners "
      "false) to the test batch's BN output size, so statistics follow relative image position and adaptation "
      "runs on the same input the model predicts on; \"resize_input\": the test images are bilinearly resized "
      "to the training size for the ActMAD forward pass only (predictions stay at full size); \"error\": refuse. "
      "Source batches of another size are resized to the stored shapes the same way.\n"
      "Updated parameters: all network parameters (`params = \"all\"`; `\"backbone\"` restricts to the "
      "backbone — heads get no gradient from this loss either way). BatchNorm: eval mode (source running "
      "statistics) in adaptation and prediction, running statistics never change.\n"
      "Optimizer: SGD momentum 0.9, Nesterov, weight decay 5e-4, lr 2.5e-4 (the ImageNet ResNet-50 setting; "
      "CIFAR-10 1e-2, CIFAR-100 1e-3, KITTI/YOLO 1e-4). ActMAD takes 1 step per batch, online.";
  info.schema = binding().schema();
  s4t::add_method<ActMad>(r, info, [](const s4t::BuildContext&, const s4t::Options& o) {
    return std::make_shared<ActMad>(binding().read(o));
  });
}

}  // namespace

S4T_PLUGIN("s4t.actmad", "1.0.0", register_actmad)
