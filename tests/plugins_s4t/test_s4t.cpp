// The `s4t` method plugin (METHODS.md 1): loaded with dlopen and driven through the SDK interface on a
// small fake multi-task model (two convs + 1x1 heads on 32x32 images), plus the header-only masking
// helpers the plugin's TBS uses.
#include <ATen/ATen.h>
#include <dlfcn.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "../../plugins/s4t/token_mask.hpp"
#include "s4t/error.hpp"
#include "s4t/losses.hpp"
#include "s4t/norm.hpp"
#include "s4t/plugin.hpp"
#include "s4t/state_dict.hpp"
#include "s4t/tensor_ops.hpp"
#include "s4t_doctest.hpp"
#include "test_support.hpp"
#include "tiny_model.hpp"

using namespace s4t;

namespace {

// ---------------------------------------------------------------------------------------------------
// Plugin loading

struct MethodEntry {
  ComponentInfo info;
  MethodFactory factory;
};

class TestRegistrar final : public Registrar {
 public:
  void add_backbone(ComponentInfo, BackboneFactory) override {}
  void add_head(ComponentInfo, HeadFactory) override {}
  void add_dataset(ComponentInfo, DatasetFactory) override {}
  void add_method(ComponentInfo info, MethodFactory factory) override {
    const std::string name = info.name;  // before info is moved from
    methods[name] = MethodEntry{std::move(info), std::move(factory)};
  }
  std::map<std::string, MethodEntry> methods;
};

// Loaded once per process and never unloaded (LibTorch plugins must not be unloaded).
const TestRegistrar& plugin() {
  static const TestRegistrar registrar = [] {
    TestRegistrar r;
    const auto path = test::plugin_dir() / "s4t.so";
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) throw std::runtime_error("cannot load " + path.string() + ": " + dlerror());
    auto entry = reinterpret_cast<s4t_plugin_entry_fn>(dlsym(handle, S4T_PLUGIN_ENTRY_SYMBOL));
    if (!entry) throw std::runtime_error(path.string() + " has no " S4T_PLUGIN_ENTRY_SYMBOL);
    const s4t_plugin_descriptor* d = entry();
    if (d->sdk_abi_version != S4T_SDK_ABI_VERSION) throw std::runtime_error("s4t.so: SDK ABI mismatch");
    d->register_components(r);
    return r;
  }();
  return registrar;
}

const MethodEntry& s4t_entry() { return plugin().methods.at("s4t"); }

Options s4t_options(const std::map<std::string, Value>& overrides = {}) {
  auto o = Options::defaults(s4t_entry().info.schema, "[method.s4t]");
  for (auto& [k, v] : overrides) o.set(k, v);
  return o;
}

std::shared_ptr<TTTMethod> make_method(const std::map<std::string, Value>& overrides = {}) {
  return s4t_entry().factory(BuildContext{}, s4t_options(overrides));
}

// Small TBS for tests: 32x32 grid, 8x8 patches → 16 tokens, 4 visible at r = 0.75; narrow latents.
std::map<std::string, Value> tiny_options(std::map<std::string, Value> extra = {}) {
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

std::vector<TaskSpec> standard_tasks(std::int64_t classes) {
  std::vector<std::string> names;
  for (std::int64_t i = 0; i < classes; ++i) names.push_back("c" + std::to_string(i));
  return {semseg_task(names), depth_task(), normals_task(), edge_task()};
}

// ---------------------------------------------------------------------------------------------------
// Fake models

/// Only the static facts of a model (for parameter counts); no forward pass.
class InfoOnlyModel final : public MultiTaskModel {
 public:
  InfoOnlyModel(std::vector<TaskSpec> tasks, std::int64_t fused_channels) : tasks_(std::move(tasks)) {
    info_.fused_channels = fused_channels;
    info_.fused_size = {64, 64};
  }
  const std::vector<TaskSpec>& tasks() const override { return tasks_; }
  const FeatureInfo& feature_info() const override { return info_; }
  std::array<std::int64_t, 2> train_size() const override { return {256, 256}; }
  at::Device device() const override { return at::kCPU; }
  ModelOutput forward(const at::Tensor&, const ForwardOptions&) override { throw std::logic_error("info only"); }
  Features features(const at::Tensor&, const ForwardOptions&) override { throw std::logic_error("info only"); }
  std::map<std::string, at::Tensor> predict(const Features&, std::array<std::int64_t, 2>) override {
    throw std::logic_error("info only");
  }
  torch::nn::Module& root() override { return root_; }

 private:
  std::vector<TaskSpec> tasks_;
  FeatureInfo info_;
  torch::nn::Module root_;
};

/// conv(3→8, s2) + BN + ReLU → conv(8→16, s2) + ReLU on 32x32 images; fused map = both stages resized to
/// (train/4)² and concatenated (24 channels); one 1x1 conv head per task, upsampled to the input.
/// With `per_task_features`, the backbone also gives each task its own map (the fused map, MTI-Net-like).
class FakeModel final : public MultiTaskModel {
 public:
  explicit FakeModel(std::vector<TaskSpec> tasks, bool per_task_features = false)
      : tasks_(std::move(tasks)), per_task_(per_task_features) {
    root_ = std::make_shared<torch::nn::Module>("FakeModel");
    auto backbone = root_->register_module("backbone", std::make_shared<torch::nn::Module>("Backbone"));
    conv1_ = backbone->register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 3).stride(2).padding(1)));
    bn1_ = backbone->register_module("bn1", torch::nn::BatchNorm2d(8));
    conv2_ = backbone->register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 16, 3).stride(2).padding(1)));
    auto heads = root_->register_module("heads", std::make_shared<torch::nn::Module>("Heads"));
    for (auto& t : tasks_)
      heads_.emplace(t.name, heads->register_module(t.name, torch::nn::Conv2d(torch::nn::Conv2dOptions(24, t.channels, 1))));
    info_.stage_channels = {8, 16};
    info_.stage_strides = {2, 4};
    info_.fused_channels = 24;
    info_.fused_size = {8, 8};
    if (per_task_)
      for (auto& t : tasks_) info_.task_feature_channels[t.name] = 24;
  }
  void attach(const std::shared_ptr<TTTMethod>& method) {
    method_ = method;
    method->attach(*this);
    if (auto m = method->module()) root_->register_module("method", m);
  }
  const std::vector<TaskSpec>& tasks() const override { return tasks_; }
  const FeatureInfo& feature_info() const override { return info_; }
  std::array<std::int64_t, 2> train_size() const override { return {32, 32}; }
  at::Device device() const override { return at::kCPU; }
  Features features(const at::Tensor& images, const ForwardOptions& = {}) override {
    Features f;
    auto c1 = bn1_->forward(conv1_->forward(images)).relu();
    auto c2 = conv2_->forward(c1).relu();
    f.stages = {c1, c2};
    f.fused = at::cat({resize_bilinear(c1, info_.fused_size), resize_bilinear(c2, info_.fused_size)}, 1);
    if (per_task_)
      for (auto& t : tasks_) f.task_features[t.name] = f.fused;
    return f;
  }
  std::map<std::string, at::Tensor> predict(const Features& f, std::array<std::int64_t, 2> size) override {
    std::map<std::string, at::Tensor> out;
    for (auto& t : tasks_) out[t.name] = resize_bilinear(heads_.at(t.name)->forward(f.fused), size);
    return out;
  }
  ModelOutput forward(const at::Tensor& images, const ForwardOptions& options = {}) override {
    ModelOutput out;
    out.features = features(images, options);
    out.predictions = predict(out.features, spatial_size(images));
    return out;
  }
  torch::nn::Module& root() override { return *root_; }

 private:
  std::vector<TaskSpec> tasks_;
  bool per_task_;
  FeatureInfo info_;
  std::shared_ptr<torch::nn::Module> root_;
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  std::map<std::string, torch::nn::Conv2d> heads_;
  std::shared_ptr<TTTMethod> method_;
};

struct Setup {
  std::shared_ptr<FakeModel> model;
  std::shared_ptr<TTTMethod> method;
};

Setup make_setup(std::uint64_t seed, const std::map<std::string, Value>& overrides = {}, bool per_task = false) {
  at::manual_seed(seed);
  Setup s;
  s.model = std::make_shared<FakeModel>(standard_tasks(3), per_task);
  s.method = make_method(tiny_options(overrides));
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
  apply_norm_mode(root, mode);
  at::NoGradGuard no_grad;
  at::manual_seed(seed);
  return s.method->adaptation_loss(*s.model, images, AdaptContext{}).item<double>();
}

}  // namespace

// ---------------------------------------------------------------------------------------------------

TEST_CASE("s4t plugin: registration, defaults, factory checks and the paper's parameter count (METHODS.md 1.2)") {
  SUBCASE("registration, defaults and the model-free factory") {
    const auto& e = s4t_entry();
    CHECK(e.info.version == "1.0.0");
    CHECK(e.info.doc.find("5,682,508") != std::string::npos);
    auto method = make_method();
    CHECK(method->has_source_objective());
    CHECK(method->module() == nullptr);  // built in attach(), not in the factory
    auto o = s4t_options();
    CHECK(o.get_int("tbs_input_res") == 256);
    CHECK(o.get_int("patch_size") == 16);
    CHECK(o.get_float("mask_ratio") == doctest::Approx(0.8));
    CHECK(o.get_float("lambda_tbs") == doctest::Approx(0.01));
    CHECK(o.get_float("lambda_tp") == doctest::Approx(1.0));
    CHECK(o.get_float("lambda_tbs_source") == doctest::Approx(1.0));
    CHECK(o.get_string("optimizer") == "sgd");
    CHECK(o.get_float("lr") == doctest::Approx(2e-5));
    CHECK(o.get_float("weight_decay") == doctest::Approx(1e-6));
    CHECK(o.get_float("momentum") == 0.0);
    CHECK(o.get_string_list("adapt") == std::vector<std::string>{"backbone", "method"});
    // Inconsistent sizes are configuration errors at build time.
    CHECK_THROWS_AS(make_method({{"tbs_input_res", Value(std::int64_t{30})}, {"patch_size", Value(std::int64_t{8})}}),
                    ConfigError);
    CHECK_THROWS_AS(make_method({{"embed_dim", Value(std::int64_t{36})}, {"heads", Value(std::int64_t{8})}}), ConfigError);
  }
  SUBCASE("parameter count of the paper's ResNet-50 configuration (METHODS.md 1.2)") {
    at::manual_seed(0);
    InfoOnlyModel model(standard_tasks(7), 3840);  // K = 7 + 1 + 3 + 1
    auto method = make_method();
    method->attach(model);
    auto& m = *method->module();
    const auto total = count_with_prefix(m, "");
    const auto tbs = count_with_prefix(m, "tbs.");
    MESSAGE("s4t module parameters: total " << total << ", ts_comp " << count_with_prefix(m, "ts_comp.")
                                            << ", aux heads " << count_with_prefix(m, "aux_heads.") << ", TBS " << tbs);
    CHECK(count_with_prefix(m, "ts_comp.") == 983296);
    CHECK(count_with_prefix(m, "aux_heads.") == 780);
    CHECK(count_with_prefix(m, "tbs.patch_embed.") == 4194368);
    CHECK(count_with_prefix(m, "tbs.blocks.") == 199936);
    CHECK(count_with_prefix(m, "tbs.decoder_embed.") == 4160);
    CHECK(count_with_prefix(m, "tbs.mask_token") == 64);
    CHECK(count_with_prefix(m, "tbs.decoder_blocks.") == 99968);
    CHECK(count_with_prefix(m, "tbs.decoder_pred.") == 199680);
    CHECK(count_with_prefix(m, "tbs.norm.") + count_with_prefix(m, "tbs.decoder_norm.") == 256);
    CHECK(tbs == 4698432);
    CHECK(total == 5682508);  // 29,236,632 - 23,554,124
    // Position embeddings are fixed buffers (saved, not trained).
    auto buffers = m.named_buffers(true);
    REQUIRE(buffers.contains("tbs.pos_embed"));
    CHECK(buffers["tbs.pos_embed"].sizes().vec() == std::vector<std::int64_t>{1, 256, 64});
    CHECK(buffers["tbs.decoder_pos_embed"].sizes().vec() == std::vector<std::int64_t>{1, 256, 64});
    // Init: LayerNorm (1, 0), zero Linear biases, mask token ~ N(0, 0.02²).
    auto params = m.named_parameters(true);
    CHECK(at::equal(params["tbs.norm.weight"], at::ones({64})));
    CHECK(params["tbs.blocks.0.attn.qkv.bias"].abs().sum().item<double>() == 0.0);
    CHECK(params["tbs.mask_token"].std().item<double>() == doctest::Approx(0.02).epsilon(0.5));
    // xavier-uniform on the patch embedding viewed as 64 x (256·16·16): bound sqrt(6 / (64 + 65536)).
    const double bound = std::sqrt(6.0 / (64.0 + 65536.0));
    CHECK(params["tbs.patch_embed.proj.weight"].abs().max().item<double>() <= bound);
    CHECK(params["tbs.patch_embed.proj.weight"].abs().max().item<double>() > 0.9 * bound);

    // Automatic weighting adds one σ per task.
    auto weighted = make_method({{"auto_weight", Value(true)}});
    weighted->attach(model);
    CHECK(count_with_prefix(*weighted->module(), "") == 5682508 + 4);
    CHECK(at::equal(weighted->module()->named_parameters(true)["auto_weight_sigma"], at::ones({4})));
  }
}

TEST_CASE("s4t plugin: token masking (floor(N(1-r)) tokens, per sample, fresh each call), shapes and names") {
  SUBCASE("token masking keeps floor(N(1-r)) tokens, per sample, fresh on every call") {
    CHECK(tbs::visible_token_count(256, 0.8) == 51);
    CHECK(tbs::visible_token_count(16, 0.75) == 4);
    CHECK(tbs::visible_token_count(256, 0.0) == 256);
    CHECK(tbs::visible_token_count(256, 0.9) == 25);

    at::manual_seed(3);
    const std::int64_t b = 6, n = 64, keep = tbs::visible_token_count(n, 0.8);
    auto m1 = tbs::random_token_mask(b, n, keep, at::kCPU);
    auto m2 = tbs::random_token_mask(b, n, keep, at::kCPU);
    CHECK(m1.keep.sizes().vec() == std::vector<std::int64_t>{b, keep});
    CHECK(m1.restore.sizes().vec() == std::vector<std::int64_t>{b, n});
    for (std::int64_t i = 0; i < b; ++i) {
      auto ids = std::get<0>(at::sort(m1.keep[i]));
      CHECK(std::get<0>(at::unique_consecutive(ids)).numel() == keep);  // distinct tokens
      // restore is the inverse permutation: the kept tokens land at ranks 0..keep-1.
      auto ranks = m1.restore[i].index_select(0, m1.keep[i]);
      CHECK(at::equal(std::get<0>(at::sort(ranks)), at::arange(keep, at::kLong)));
      CHECK(at::equal(std::get<0>(at::sort(m1.restore[i])), at::arange(n, at::kLong)));
    }
    CHECK_FALSE(at::equal(m1.keep[0], m1.keep[1]));  // differs between samples
    CHECK_FALSE(at::equal(m1.keep, m2.keep));        // and between calls
    at::manual_seed(3);
    auto again = tbs::random_token_mask(b, n, keep, at::kCPU);
    CHECK(at::equal(again.keep, m1.keep));  // the torch seed controls it

    // 2-D sin-cos embedding: first half encodes the column, second half the row.
    auto pe = tbs::sincos_position_embedding(8, 4);  // dim 8, 4x4 grid
    CHECK(pe.sizes().vec() == std::vector<std::int64_t>{1, 16, 8});
    auto tok = pe[0][1 * 4 + 2];  // row 1, column 2; ω = (1, 1/100)
    CHECK(tok[0].item<double>() == doctest::Approx(std::sin(2.0)));
    CHECK(tok[1].item<double>() == doctest::Approx(std::sin(0.02)));
    CHECK(tok[2].item<double>() == doctest::Approx(std::cos(2.0)));
    CHECK(tok[4].item<double>() == doctest::Approx(std::sin(1.0)));
    CHECK(tok[6].item<double>() == doctest::Approx(std::cos(1.0)));
  }
  SUBCASE("shapes, names and a fresh TBS mask in every forward pass (also in eval mode)") {
    auto s = make_setup(1);
    auto& root = s.model->root();
    auto names = root.named_parameters(true);
    CHECK(names.contains("method.ts_comp.weight"));
    CHECK(names["method.ts_comp.weight"].sizes().vec() == std::vector<std::int64_t>{4 * 16, 24, 1, 1});
    CHECK(names.contains("method.aux_heads.normals.weight"));
    CHECK(names["method.tbs.decoder_pred.weight"].size(0) == 8 * 8 * (3 + 1 + 3 + 1));
    CHECK(names["method.tbs.patch_embed.proj.weight"].sizes().vec() == std::vector<std::int64_t>{32, 64, 8, 8});

    at::manual_seed(10);
    auto images = at::randn({2, 3, 32, 32});
    root.eval();
    apply_norm_mode(root, NormMode::Eval);
    {
      at::NoGradGuard no_grad;
      auto latents = s.method->task_latents(*s.model, images);
      REQUIRE(latents.size() == 4);
      for (auto& [task, z] : latents) CHECK(z.sizes().vec() == std::vector<std::int64_t>{2, 16, 8, 8});
    }
    const double a = adaptation_loss_value(s, images, 5, NormMode::Eval);
    const double b = adaptation_loss_value(s, images, 6, NormMode::Eval);
    const double a2 = adaptation_loss_value(s, images, 5, NormMode::Eval);
    CHECK(std::isfinite(a));
    CHECK(a > 0.0);
    CHECK(a != b);   // another mask
    CHECK(a == a2);  // same seed, same mask, same value

    // Per-sample masks: a batch [x, x'] with x' = x must not reuse sample 0's mask for sample 1. The
    // first row of the noise of a 2-sample batch equals the noise of a 1-sample batch with the same seed.
    auto x = images.narrow(0, 0, 1);
    const double one = adaptation_loss_value(s, x, 9, NormMode::Eval);
    const double twice = adaptation_loss_value(s, at::cat({x, x}, 0), 9, NormMode::Eval);
    CHECK(one != doctest::Approx(twice).epsilon(1e-9));

    // The TBS needs visible tokens at least: mask_ratio leaving none is refused.
    CHECK_THROWS_AS(make_method(tiny_options({{"mask_ratio", Value(0.99)}})), ConfigError);
  }
}

TEST_CASE("s4t plugin: test-time gradients (backbone, latents, TBS; not the heads) and a falling loss over 10 SGD steps") {
  SUBCASE("test-time gradients reach backbone, latent projection and TBS, not the heads") {
    auto s = make_setup(2);
    auto& root = s.model->root();
    auto policy = s.method->adaptation_policy(*s.model);
    CHECK(policy.selects("backbone.conv1.weight"));
    CHECK(policy.selects("method.tbs.blocks.0.attn.qkv.weight"));
    CHECK(policy.selects("method.ts_comp.weight"));
    CHECK_FALSE(policy.selects("heads.semseg.weight"));
    CHECK_FALSE(policy.selects("backbonex.weight"));
    CHECK(policy.adapt_norm == NormMode::TrainUpdate);
    CHECK(policy.predict_norm == NormMode::Eval);
    CHECK(policy.optimizer.name == "sgd");
    CHECK(policy.optimizer.lr == doctest::Approx(2e-5));
    CHECK(policy.optimizer.weight_decay == doctest::Approx(1e-6));
    CHECK(policy.optimizer.momentum == 0.0);
    auto narrow = make_method(tiny_options({{"adapt", Value(std::vector<std::string>{"method.tbs", "backbone.conv2"})}}));
    auto narrow_policy = narrow->adaptation_policy(*s.model);
    CHECK(narrow_policy.selects("method.tbs.mask_token"));
    CHECK_FALSE(narrow_policy.selects("method.ts_comp.weight"));
    CHECK_FALSE(narrow_policy.selects("backbone.conv1.weight"));

    // Every parameter requires grad here, so the test sees where gradient actually flows.
    root.train();
    apply_norm_mode(root, policy.adapt_norm);
    at::manual_seed(11);
    auto loss = s.method->adaptation_loss(*s.model, at::randn({2, 3, 32, 32}), AdaptContext{});
    CHECK(loss.dim() == 0);
    loss.backward();
    for (auto name : {"backbone.conv1.weight", "backbone.bn1.weight", "backbone.conv2.weight", "method.ts_comp.weight",
                      "method.ts_comp.bias", "method.tbs.patch_embed.proj.weight", "method.tbs.blocks.0.attn.qkv.weight",
                      "method.tbs.blocks.1.mlp.fc2.weight", "method.tbs.norm.weight", "method.tbs.decoder_embed.weight",
                      "method.tbs.mask_token", "method.tbs.decoder_blocks.0.attn.proj.weight",
                      "method.tbs.decoder_pred.weight"}) {
      INFO(name);
      CHECK(has_gradient(root, name));
    }
    for (auto& p : root.named_parameters(true)) {
      const bool head = p.key().rfind("heads.", 0) == 0 || p.key().rfind("method.aux_heads.", 0) == 0;
      if (!head) continue;
      INFO(p.key());
      CHECK_FALSE(p.value().grad().defined());
    }
  }
  SUBCASE("the test-time loss falls over 10 SGD steps on a fixed batch") {
    auto s = make_setup(3);
    auto& root = s.model->root();
    auto policy = s.method->adaptation_policy(*s.model);
    std::vector<at::Tensor> params;
    for (auto& p : root.named_parameters(true)) {
      const bool adapt = policy.selects(p.key());
      p.value().set_requires_grad(adapt);
      if (adapt) params.push_back(p.value());
    }
    at::manual_seed(12);
    auto images = at::randn({4, 3, 32, 32});
    // Measured with the same mask (seed 100) before and after; training masks are fresh.
    const double before = adaptation_loss_value(s, images, 100, NormMode::TrainFrozen);
    const double lr = 0.1;
    std::vector<double> trace;
    at::manual_seed(13);
    for (int step = 0; step < 10; ++step) {
      root.train();
      apply_norm_mode(root, policy.adapt_norm);
      zero_grads(root);
      auto loss = s.method->adaptation_loss(*s.model, images, AdaptContext{step + 1, 0});
      trace.push_back(loss.item<double>());
      loss.backward();
      at::NoGradGuard no_grad;
      for (auto& p : params)
        if (p.grad().defined()) p.sub_(p.grad(), lr);
    }
    const double after = adaptation_loss_value(s, images, 100, NormMode::TrainFrozen);
    std::string text;
    for (double v : trace) text += std::to_string(v) + " ";
    MESSAGE("test-time loss, fixed mask: " << before << " -> " << after << "; per step: " << text);
    CHECK(after < 0.8 * before);
    CHECK(trace.back() < trace.front());
  }
}

TEST_CASE("s4t plugin: the source objective trains aux heads, latent projection and TBS") {
  auto s = make_setup(4);
  auto& root = s.model->root();
  auto& tasks = s.model->tasks();
  root.train();
  auto batch = test::random_batch(tasks, 2, {32, 32}, 7);
  auto output = s.model->forward(batch.images);
  auto main_losses = task_losses(tasks, output.predictions, batch);
  auto total = s.method->source_objective(*s.model, batch, output, main_losses);
  CHECK(total.dim() == 0);
  CHECK(total.item<double>() > weighted_sum(tasks, main_losses).item<double>());
  total.backward();
  for (auto name : {"heads.semseg.weight", "method.aux_heads.semseg.weight", "method.aux_heads.depth.weight",
                    "method.aux_heads.normals.weight", "method.aux_heads.edge.weight", "method.ts_comp.weight",
                    "method.tbs.patch_embed.proj.weight", "method.tbs.mask_token", "method.tbs.decoder_pred.weight",
                    "backbone.conv1.weight"}) {
    INFO(name);
    CHECK(has_gradient(root, name));
  }

  SUBCASE("with both lambdas 0 it is the main loss") {
    auto s0 = make_setup(4, {{"lambda_tp", Value(0.0)}, {"lambda_tbs_source", Value(0.0)}});
    auto out0 = s0.model->forward(batch.images);
    auto ml = task_losses(tasks, out0.predictions, batch);
    CHECK(s0.method->source_objective(*s0.model, batch, out0, ml).item<double>() ==
          doctest::Approx(weighted_sum(tasks, ml).item<double>()));
  }
  SUBCASE("automatic weighting: sigma = 1 gives 0.5 sum_t L_t + T log 2, and sigma gets gradient") {
    auto sa = make_setup(4, {{"auto_weight", Value(true)}, {"lambda_tp", Value(0.0)}, {"lambda_tbs_source", Value(0.0)}});
    auto outa = sa.model->forward(batch.images);
    auto ml = task_losses(tasks, outa.predictions, batch);
    double sum = 0.0;
    for (auto& [k, v] : ml) sum += v.item<double>();
    auto ta = sa.method->source_objective(*sa.model, batch, outa, ml);
    CHECK(ta.item<double>() == doctest::Approx(0.5 * sum + 4.0 * std::log(2.0)));
    ta.backward();
    CHECK(has_gradient(sa.model->root(), "method.auto_weight_sigma"));
  }
  SUBCASE("an all-ignore semseg batch stays finite") {
    auto b = batch;
    b.targets["semseg"] = at::full_like(b.targets["semseg"], 255);
    auto out = s.model->forward(b.images);
    auto ml = task_losses(tasks, out.predictions, b);
    CHECK(std::isfinite(s.method->source_objective(*s.model, b, out, ml).item<double>()));
  }
}

TEST_CASE("s4t plugin: single-task adaptation, task weights at test time and per-task (MTI-Net-like) features") {
  SUBCASE("single-task adaptation and task weights at test time") {
    SUBCASE("an unknown task is refused at attach") {
      FakeModel model(standard_tasks(3));
      auto method = make_method(tiny_options({{"single_task", Value(std::string("albedo"))}}));
      CHECK_THROWS_AS(method->attach(model), ConfigError);
    }
    SUBCASE("only the chosen task's latent reaches the TBS") {
      auto s = make_setup(5, {{"single_task", Value(std::string("depth"))}});
      auto& root = s.model->root();
      root.train();
      at::manual_seed(14);
      s.method->adaptation_loss(*s.model, at::randn({2, 3, 32, 32}), AdaptContext{}).backward();
      auto g = grad_of(root, "method.ts_comp.weight");  // rows: semseg 0..15, depth 16..31, ...
      CHECK(g.narrow(0, 0, 16).abs().sum().item<double>() == 0.0);
      CHECK(g.narrow(0, 16, 16).abs().sum().item<double>() > 0.0);
      CHECK(g.narrow(0, 32, 32).abs().sum().item<double>() == 0.0);
    }
    SUBCASE("double_task_weight: c_t = w_t^2 instead of w_t") {
      // Only `edge` (w = 50): the squared weight multiplies the loss by exactly 50.
      auto a = make_setup(6, {{"single_task", Value(std::string("edge"))}});
      auto b = make_setup(6, {{"single_task", Value(std::string("edge"))}, {"double_task_weight", Value(true)}});
      at::manual_seed(15);
      auto images = at::randn({2, 3, 32, 32});
      const double la = adaptation_loss_value(a, images, 8, NormMode::Eval);
      const double lb = adaptation_loss_value(b, images, 8, NormMode::Eval);
      CHECK(lb == doctest::Approx(50.0 * la));
    }
  }
  SUBCASE("per-task features (MTI-Net-like) use one projection per task") {
    auto s = make_setup(7, {}, /*per_task=*/true);
    auto& root = s.model->root();
    auto names = root.named_parameters(true);
    CHECK_FALSE(names.contains("method.ts_comp.weight"));
    REQUIRE(names.contains("method.ts_proj.normals.weight"));
    CHECK(names["method.ts_proj.normals.weight"].sizes().vec() == std::vector<std::int64_t>{16, 24, 1, 1});
    root.train();
    at::manual_seed(16);
    s.method->adaptation_loss(*s.model, at::randn({2, 3, 32, 32}), AdaptContext{}).backward();
    CHECK(has_gradient(root, "method.ts_proj.semseg.weight"));
    CHECK(has_gradient(root, "method.ts_proj.edge.weight"));
  }
}

TEST_CASE("s4t plugin: method state round trip through write_state_dict / read_state_dict") {
  test::TempDir dir;
  auto a = make_setup(8);
  auto b = make_setup(9);  // other random init
  at::manual_seed(17);
  auto images = at::randn({2, 3, 32, 32});
  const double la = adaptation_loss_value(a, images, 21, NormMode::Eval);
  CHECK(adaptation_loss_value(b, images, 21, NormMode::Eval) != la);

  // Same backbone and heads (the host's checkpoint), then the method module through a file.
  StateDict base;
  for (auto& [name, t] : state_dict_of(a.model->root()))
    if (name.rfind("method.", 0) != 0) base[name] = t;
  load_state_dict(b.model->root(), base, "", /*strict=*/false);
  const auto file = dir.path() / "s4t_method.pt";
  write_state_dict(file, state_dict_of(*a.method->module()));
  auto loaded = read_state_dict(file);
  CHECK(loaded.count("tbs.pos_embed") == 1);
  CHECK(loaded.count("tbs.mask_token") == 1);
  auto report = load_state_dict(*b.method->module(), loaded, "", /*strict=*/true);
  CHECK(report.missing.empty());
  CHECK(report.unexpected.empty());
  for (auto& [name, t] : state_dict_of(*b.method->module())) {
    INFO(name);
    CHECK(at::equal(t, loaded.at(name)));
  }
  CHECK(adaptation_loss_value(b, images, 21, NormMode::Eval) == la);  // identical TBS output, same mask
  CHECK(adaptation_loss_value(b, images, 22, NormMode::Eval) == adaptation_loss_value(a, images, 22, NormMode::Eval));
  at::NoGradGuard no_grad;
  auto za = a.method->task_latents(*a.model, images), zb = b.method->task_latents(*b.model, images);
  for (auto& [task, z] : za) CHECK(at::equal(z, zb.at(task)));
}

TEST_CASE("s4t plugin: on the host's tiny ResNet model (when the resnet and heads plugins are built)") {
  const auto dir = test::plugin_dir();
  if (!std::filesystem::exists(dir / "resnet.so") || !std::filesystem::exists(dir / "heads.so")) {
    MESSAGE("resnet/heads plugins not in " << dir << ": skipped");
    return;
  }
  test::TinyModelOptions o;
  o.method_options = tiny_options();
  at::manual_seed(18);
  auto t = test::make_tiny_model("s4t", o);
  auto counts = t.model->parameter_counts();
  CHECK(counts["method"] > 0);
  auto batch = test::random_batch(t.tasks, 2, {32, 32}, 3);
  t.model->root().train();
  auto output = t.model->forward(batch.images);
  auto loss = t.method->source_objective(*t.model, batch, output, task_losses(t.tasks, output.predictions, batch));
  CHECK(std::isfinite(loss.item<double>()));
  auto ttt = t.method->adaptation_loss(*t.model, batch.images, AdaptContext{});
  CHECK(std::isfinite(ttt.item<double>()));
}
