// The `mtinet` backbone plugin: MTI-Net on ResNet stages (METHODS.md §3). Shapes at every scale, names,
// pretrained trunk, training with deep supervision, S4T on MTI-Net, and "swapping the architecture
// under S4T changes only the config". Tiny widths and 32x32 images keep the suite fast.
#include <ATen/ATen.h>
#include "s4t_doctest.hpp"
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/utils.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "config/config_tree.hpp"
#include "config/experiment.hpp"
#include "engine/optimizers.hpp"
#include "engine/setup.hpp"
#include "mtinet_modules.hpp"
#include "s4t/losses.hpp"
#include "s4t/norm.hpp"
#include "s4t/state_dict.hpp"
#include "test_support.hpp"
#include "tiny_model.hpp"

using namespace s4t;
using namespace s4t::host;

namespace {

using Shape = std::vector<std::int64_t>;

/// The architecture part of a config: what `[model] backbone/head` + `[backbone.<name>]` say.
struct Architecture {
  std::string backbone;
  std::map<std::string, Value> backbone_options;
  std::string head = "conv1x1";
};

/// The tiny MTI-Net of these tests: ResNet-18 width 8 trunk, widths 8/8/16/16.
Architecture tiny_mtinet(std::map<std::string, Value> extra = {}) {
  Architecture a{"mtinet", {{"depth", Value(std::int64_t{18})}, {"width", Value(std::int64_t{8})},
                            {"channels", Value(std::vector<std::int64_t>{8, 8, 16, 16})}}};
  for (auto& [k, v] : extra) a.backbone_options[k] = v;
  return a;
}
Architecture tiny_resnet() {
  return {"resnet", {{"depth", Value(std::int64_t{18})}, {"width", Value(std::int64_t{8})}}};
}

std::vector<TaskSpec> four_tasks(std::int64_t classes = 3) {
  std::vector<std::string> names;
  for (std::int64_t i = 0; i < classes; ++i) names.push_back("c" + std::to_string(i));
  return {semseg_task(names), depth_task(), normals_task(), edge_task()};
}

/// Composes a model the way the host does (host::build_model): backbone from the registry, one head per
/// task unless the backbone predicts itself, CompositeModel, method attached. Nothing here depends on
/// which architecture is asked for.
test::TinyModel compose(const Architecture& arch, const std::string& method, std::map<std::string, Value> method_options = {},
                        std::vector<TaskSpec> tasks = four_tasks(), std::array<std::int64_t, 2> train_size = {32, 32}) {
  auto& registry = test::build_registry();
  BuildContext ctx;
  ctx.tasks = tasks;
  ctx.train_size = train_size;
  auto backbone = registry.make_backbone(arch.backbone, ctx,
                                         test::component_options(ComponentKind::Backbone, arch.backbone, arch.backbone_options));
  const auto info = backbone->info();
  std::map<std::string, std::shared_ptr<TaskHead>> heads;
  if (!info.provides_predictions)
    for (auto& t : tasks)
      heads[t.name] = registry.make_head(arch.head, ctx, t, info, test::component_options(ComponentKind::Head, arch.head));
  test::TinyModel m;
  m.tasks = tasks;
  m.model = std::make_shared<CompositeModel>(tasks, train_size, backbone, heads);
  m.method = registry.make_method(method, ctx, test::component_options(ComponentKind::Method, method, method_options));
  m.model->attach_method(m.method);
  return m;
}

/// The host trainer's loss: supervised losses of the main outputs plus "<task>@ds<k>" terms, then the
/// method's source objective.
at::Tensor source_loss(test::TinyModel& m, const Batch& batch, std::map<std::string, at::Tensor>* terms = nullptr) {
  auto output = m.model->forward(batch.images);
  auto losses = task_losses(m.tasks, output.predictions, batch);
  for (auto& [task, maps] : output.features.deep_supervision)
    for (size_t k = 0; k < maps.size(); ++k)
      for (auto& t : m.tasks)
        if (t.name == task) losses[task + "@ds" + std::to_string(k)] = task_loss(t, maps[k], batch);
  if (terms) *terms = losses;
  return m.method->source_objective(*m.model, batch, output, losses);
}

std::int64_t count(const torch::nn::Module& module, const std::string& prefix = "") {
  std::int64_t n = 0;
  for (auto& p : module.named_parameters(true))
    if (p.key().rfind(prefix, 0) == 0) n += p.value().numel();
  return n;
}

bool has_prefix(const torch::nn::Module& module, const std::string& prefix) {
  for (auto& p : module.named_parameters(true))
    if (p.key().rfind(prefix, 0) == 0) return true;
  return false;
}

/// The adaptation loop of the host (engine/adapter.cpp) on one fixed batch; returns the loss per step.
/// The RNG is reseeded before every step so S4T's random token mask is the same each time and the loss
/// is a deterministic function of the weights.
std::vector<double> adapt_on(test::TinyModel& m, const at::Tensor& images, int steps) {
  auto& root = m.model->root();
  auto policy = m.method->adaptation_policy(*m.model);
  std::vector<at::Tensor> params;
  for (auto& p : root.named_parameters(true)) {
    const bool adapt = policy.selects && policy.selects(p.key());
    p.value().set_requires_grad(adapt);
    if (adapt) params.push_back(p.value());
  }
  auto optimizer = make_optimizer(policy.optimizer, params);
  std::vector<double> losses;
  for (int s = 1; s <= steps; ++s) {
    root.train();
    apply_norm_mode(root, policy.adapt_norm);
    torch::manual_seed(7);
    auto loss = m.method->adaptation_loss(*m.model, images, AdaptContext{s, 0});
    losses.push_back(loss.item<double>());
    optimizer->zero_grad();
    loss.backward();
    optimizer->step();
  }
  for (auto& p : root.parameters(true)) p.set_requires_grad(true);
  return losses;
}

}  // namespace

TEST_CASE("MTI-Net modules: initial predictions, task features and outputs at every scale") {
  mtinet::MTINetOptions o;
  o.trunk.depth = 18;
  o.trunk.width = 8;
  o.channels = {4, 8, 12, 16};
  std::vector<mtinet::TaskOutput> tasks{{"semseg", 5}, {"depth", 1}, {"normals", 3}};
  mtinet::MTINet net(o, tasks);
  net->train();
  auto stages = net->stages(at::randn({2, 3, 64, 96}));
  REQUIRE(stages.size() == 4);
  auto out = net->decode(stages);
  REQUIRE(out.initial.size() == 4);
  for (std::int64_t s = 0; s < 4; ++s) {
    const std::int64_t h = 64 >> (s + 2), w = 96 >> (s + 2);
    REQUIRE(out.initial[s].size() == 3);
    CHECK(out.initial[s][0].sizes().vec() == Shape{2, 5, h, w});
    CHECK(out.initial[s][1].sizes().vec() == Shape{2, 1, h, w});
    CHECK(out.initial[s][2].sizes().vec() == Shape{2, 3, h, w});
  }
  CHECK(net->task_feature_channels() == 4 + 8 + 12 + 16);
  for (size_t t = 0; t < 3; ++t) CHECK(out.task_features[t].sizes().vec() == Shape{2, 40, 16, 24});
  CHECK(out.outputs[0].sizes().vec() == Shape{2, 5, 16, 24});
  CHECK(out.outputs[2].sizes().vec() == Shape{2, 3, 16, 24});

  // Without the initial-prediction decoders (eval-time path), the rest is unchanged.
  net->eval();
  auto a = net->decode(stages, nullptr, true);
  auto b = net->decode(stages, nullptr, false);
  CHECK(b.initial[0].empty());
  CHECK(at::allclose(a.outputs[1], b.outputs[1]));

  // Odd sizes (and a 1x1 coarsest map) work: FPM outputs are resized to the next scale's exact size.
  auto odd = net->decode(net->stages(at::randn({1, 3, 33, 47})));
  CHECK(odd.outputs[0].size(2) == net->stages(at::randn({1, 3, 33, 47}))[0].size(2));
}

TEST_CASE("the stacked distillation convolution equals the per-pair SA blocks of the reference") {
  std::vector<mtinet::TaskOutput> tasks{{"a", 1}, {"b", 1}, {"c", 1}};
  mtinet::Distillation d(tasks, 6);
  std::vector<at::Tensor> phi{at::randn({2, 6, 5, 7}), at::randn({2, 6, 5, 7}), at::randn({2, 6, 5, 7})};
  auto fused = d->forward(phi);
  std::map<std::string, std::shared_ptr<torch::nn::Module>> blocks;
  for (auto& m : d->named_modules()) blocks[m.key()] = m.value();
  for (size_t t = 0; t < 3; ++t) {
    at::Tensor expected = phi[t];
    for (size_t a = 0; a < 3; ++a) {
      if (a == t) continue;
      auto key = "self_attention." + tasks[t].name + "." + tasks[a].name;
      REQUIRE(blocks.count(key) == 1);
      expected = expected.add(blocks[key]->as<mtinet::SABlockImpl>()->forward(phi[a]));
    }
    CHECK(at::allclose(fused[t], expected, 1e-5, 1e-5));
  }
  CHECK(blocks.count("self_attention.a.a") == 0);
  // One task: nothing to distil.
  mtinet::Distillation single(std::vector<mtinet::TaskOutput>{{"a", 1}}, 6);
  CHECK(count(*single) == 0);
  CHECK(at::equal(single->forward({phi[0]})[0], phi[0]));
}

TEST_CASE("mtinet plugin: Features, FeatureInfo, parameter names, norm outputs") {
  auto m = compose(tiny_mtinet(), "none");
  const auto& info = m.model->feature_info();
  CHECK(info.provides_predictions);
  CHECK(info.fused_channels == 0);
  CHECK(info.stage_channels == Shape{8, 16, 32, 64});
  CHECK(info.stage_strides == Shape{4, 8, 16, 32});
  for (auto& t : m.tasks) CHECK(info.task_feature_channels.at(t.name) == 8 + 8 + 16 + 16);

  auto& root = m.model->root();
  root.train();
  auto batch = test::random_batch(m.tasks, 2, {32, 32}, 1);
  auto out = m.model->forward(batch.images);
  REQUIRE(out.features.stages.size() == 4);
  CHECK(out.features.stages[3].sizes().vec() == Shape{2, 64, 1, 1});
  for (auto& t : m.tasks) {
    CHECK(out.features.task_features.at(t.name).sizes().vec() == Shape{2, 48, 8, 8});
    CHECK(out.features.task_predictions.at(t.name).sizes().vec() == Shape{2, t.channels, 32, 32});
    CHECK(out.predictions.at(t.name).sizes().vec() == Shape{2, t.channels, 32, 32});
    CHECK(at::equal(out.predictions.at(t.name), out.features.task_predictions.at(t.name)));
    REQUIRE(out.features.deep_supervision.at(t.name).size() == 4);
    for (auto& p : out.features.deep_supervision.at(t.name)) CHECK(p.sizes().vec() == Shape{2, t.channels, 32, 32});
  }
  // Deep supervision only in training mode.
  root.eval();
  CHECK(m.model->forward(batch.images).features.deep_supervision.empty());
  root.train();

  // Torchvision names for the trunk, reference names for MTI-Net; no heads of the host.
  auto state = state_dict_of(root);
  for (auto* name : {"backbone.conv1.weight", "backbone.layer1.0.conv1.weight", "backbone.layer4.0.downsample.1.running_mean",
                     "backbone.reduce.3.0.weight", "backbone.reduce.0.1.running_var",
                     "backbone.scale_3.refinement.semseg.0.conv1.weight", "backbone.scale_0.refinement.edge.0.downsample.0.weight",
                     "backbone.scale_2.decoders.normals.bias", "backbone.fpm_scale_3.non_linear.0.conv1.weight",
                     "backbone.fpm_scale_1.non_linear.2.bias", "backbone.fpm_scale_2.dimensionality_reduction.downsample.1.weight",
                     "backbone.fpm_scale_1.se.depth.squeeze.2.weight",
                     "backbone.distillation_scale_0.self_attention.semseg.depth.attention.0.weight",
                     "backbone.distillation_scale_3.self_attention.edge.normals.conv.weight",
                     "backbone.heads.semseg.last_layer.0.weight", "backbone.heads.semseg.last_layer.1.running_mean",
                     "backbone.heads.edge.last_layer.3.bias"})
    CHECK_MESSAGE(state.count(name) == 1, name);
  CHECK_FALSE(has_prefix(root, "backbone.fpm_scale_0."));
  CHECK_FALSE(has_prefix(root, "backbone.scale_3.refinement.semseg.0.downsample."));  // c_3 in = c_3 out
  CHECK_FALSE(has_prefix(root, "backbone.distillation_scale_0.self_attention.depth.depth."));
  CHECK_FALSE(has_prefix(root, "heads."));
  CHECK(state.at("backbone.heads.semseg.last_layer.3.weight").sizes().vec() == Shape{3, 48, 1, 1});

  // stages_only stops after the trunk; record_norm_outputs covers the trunk and MTI-Net.
  ForwardOptions fo;
  fo.stages_only = true;
  fo.record_norm_outputs = true;
  auto trunk_only = m.model->features(batch.images, fo);
  CHECK(trunk_only.task_features.empty());
  CHECK(trunk_only.norm_outputs.size() == 1 + 8 * 2 + 3);  // ResNet-18: stem + 2 per block + 3 downsample BNs
  fo.stages_only = false;
  auto all = m.model->features(batch.images, fo);
  std::int64_t bns = 0;
  for (auto& mod : root.modules(false))
    if (mod->as<torch::nn::BatchNorm2dImpl>()) ++bns;
  CHECK(static_cast<std::int64_t>(all.norm_outputs.size()) == bns);  // every BatchNorm runs once per pass

  // The "aggregated" task features are the head's hidden map; "reference" FPM attention changes outputs.
  auto agg = compose(tiny_mtinet({{"task_features", Value(std::string("aggregated"))}}), "none");
  agg.model->root().eval();
  CHECK(agg.model->features(batch.images).task_features.at("depth").sizes().vec() == Shape{2, 48, 8, 8});
  auto ref = compose(tiny_mtinet({{"fpm_attention", Value(std::string("reference"))}}), "none");
  CHECK(count(ref.model->root()) == count(root));

  CHECK_THROWS_WITH(compose(tiny_mtinet({{"channels", Value(std::vector<std::int64_t>{8, 8, 8})}}), "none"),
                    doctest::Contains("4 widths"));
}

TEST_CASE("a torchvision state dict loads into the MTI-Net trunk through `pretrained`") {
  test::TempDir dir;
  auto plain = compose(tiny_resnet(), "none");
  StateDict state, prefixed;
  for (auto& [k, v] : state_dict_of(*plain.model->root().named_children()["backbone"]))
    state[k] = at::randn_like(v.to(at::kFloat)).to(v.dtype());
  state["fc.weight"] = at::randn({10, 64});
  state["fc.bias"] = at::randn({10});
  for (auto& [k, v] : state) prefixed["backbone." + k] = v;
  prefixed["heads.semseg.weight"] = at::randn({3});  // outside the prefix: ignored
  write_state_dict(dir.path() / "r18.pth", state);
  write_state_dict(dir.path() / "model.pth", prefixed);

  auto m = compose(tiny_mtinet({{"pretrained", Value((dir.path() / "r18.pth").string())}}), "none");
  auto got = state_dict_of(m.model->root());
  CHECK(at::equal(got.at("backbone.layer2.1.conv2.weight"), state.at("layer2.1.conv2.weight")));
  CHECK(at::equal(got.at("backbone.bn1.running_var"), state.at("bn1.running_var")));
  auto p = compose(tiny_mtinet({{"pretrained", Value((dir.path() / "model.pth").string())},
                                {"pretrained_prefix", Value(std::string("backbone."))}}),
                   "none");
  CHECK(at::equal(state_dict_of(p.model->root()).at("backbone.layer3.0.downsample.0.weight"),
                  state.at("layer3.0.downsample.0.weight")));
  state.erase("layer3.0.conv1.weight");
  write_state_dict(dir.path() / "broken.pth", state);
  CHECK_THROWS_WITH(compose(tiny_mtinet({{"pretrained", Value((dir.path() / "broken.pth").string())}}), "none"),
                    doctest::Contains("layer3.0.conv1.weight"));
}

TEST_CASE("a tiny MTI-Net trains: the loss with deep supervision falls over 20 Adam steps") {
  torch::manual_seed(0);
  auto m = compose(tiny_mtinet(), "none");
  auto batch = test::random_batch(m.tasks, 4, {32, 32}, 3);
  m.model->root().train();
  std::vector<at::Tensor> params = m.model->root().parameters(true);
  OptimizerSpec spec;
  spec.name = "adam";
  spec.lr = 1e-2;
  auto optimizer = make_optimizer(spec, params);
  std::vector<double> losses;
  std::map<std::string, at::Tensor> terms;
  for (int i = 0; i < 20; ++i) {
    auto loss = source_loss(m, batch, &terms);
    losses.push_back(loss.item<double>());
    optimizer->zero_grad();
    loss.backward();
    optimizer->step();
  }
  CHECK(terms.size() == 4 * 5);  // per task: main output + 4 deep-supervision scales
  CHECK(terms.count("normals@ds3") == 1);
  for (double l : losses) REQUIRE(std::isfinite(l));
  MESSAGE("tiny MTI-Net source loss: step 1 " << losses.front() << ", step 20 " << losses.back());
  CHECK(losses.back() < 0.85 * losses.front());
}

TEST_CASE("S4T on MTI-Net: per-task latents, source objective, and a falling test-time loss") {
  torch::manual_seed(0);
  // Small TBS for a 32x32 model: 16x16 grid, 4x4 patches -> 16 tokens, half of them visible.
  std::map<std::string, Value> s4t_options{{"tbs_input_res", Value(std::int64_t{16})},
                                           {"patch_size", Value(std::int64_t{4})},
                                           {"mask_ratio", Value(0.5)},
                                           {"lr", Value(0.05)}};
  auto m = compose(tiny_mtinet(), "s4t", s4t_options);
  auto& root = m.model->root();
  // S4T reads Features::task_features: one 1x1 projection per task, to 64 latent channels.
  CHECK(has_prefix(root, "method.ts_proj.semseg."));
  CHECK_FALSE(has_prefix(root, "method.ts_comp."));
  CHECK(state_dict_of(root).at("method.ts_proj.edge.weight").sizes().vec() == Shape{64, 48, 1, 1});

  auto batch = test::random_batch(m.tasks, 4, {32, 32}, 5);
  root.train();
  auto loss = source_loss(m, batch);
  REQUIRE(std::isfinite(loss.item<double>()));
  loss.backward();  // the source objective reaches MTI-Net and the S4T modules
  for (auto* name : {"backbone.layer1.0.conv1.weight", "backbone.distillation_scale_1.self_attention.depth.semseg.conv.weight",
                     "backbone.scale_3.decoders.edge.weight", "method.ts_proj.depth.weight"}) {
    auto g = root.named_parameters(true)[name].grad();
    CHECK_MESSAGE((g.defined() && g.abs().sum().item<double>() > 0), name);
  }
  for (auto& p : root.parameters(true)) p.mutable_grad() = at::Tensor();

  auto latents = m.method->task_latents(*m.model, batch.images);
  CHECK(latents.at("normals").sizes().vec() == Shape{4, 64, 8, 8});

  auto before = state_dict_of(root);
  StateDict snapshot;
  for (auto& [k, v] : before) snapshot[k] = v.detach().clone();
  auto losses = adapt_on(m, batch.images, 8);
  for (double l : losses) REQUIRE(std::isfinite(l));
  MESSAGE("S4T test-time loss on MTI-Net: step 1 " << losses.front() << ", step 8 " << losses.back());
  CHECK(losses.back() < losses.front());
  auto after = state_dict_of(root);
  CHECK_FALSE(at::equal(after.at("backbone.layer2.0.conv1.weight"), snapshot.at("backbone.layer2.0.conv1.weight")));
  CHECK_FALSE(at::equal(after.at("method.ts_proj.semseg.weight"), snapshot.at("method.ts_proj.semseg.weight")));
  // Main predictions are the detached pseudo-labels: the aggregation heads get no gradient.
  CHECK(at::equal(after.at("backbone.heads.depth.last_layer.3.weight"), snapshot.at("backbone.heads.depth.last_layer.3.weight")));
  CHECK(at::equal(after.at("method.aux_heads.depth.weight"), snapshot.at("method.aux_heads.depth.weight")));
  // TrainUpdate: running statistics move.
  CHECK_FALSE(at::equal(after.at("backbone.heads.edge.last_layer.1.running_mean"),
                        snapshot.at("backbone.heads.edge.last_layer.1.running_mean")));
}

TEST_CASE("swapping resnet + conv1x1 heads for mtinet under s4t changes only the architecture config") {
  std::map<std::string, Value> s4t_options{{"tbs_input_res", Value(std::int64_t{16})},
                                           {"patch_size", Value(std::int64_t{4})},
                                           {"mask_ratio", Value(0.5)}};
  auto batch = test::random_batch(four_tasks(), 2, {32, 32}, 9);
  for (auto& arch : {tiny_resnet(), tiny_mtinet()}) {
    CAPTURE(arch.backbone);
    torch::manual_seed(0);
    auto m = compose(arch, "s4t", s4t_options);  // the same call, only `arch` differs
    auto& root = m.model->root();
    const bool mti = arch.backbone == "mtinet";
    CHECK(has_prefix(root, "heads.") == !mti);
    CHECK(has_prefix(root, "method.ts_comp.") == !mti);
    CHECK(has_prefix(root, "method.ts_proj.") == mti);
    CHECK(has_prefix(root, "method.tbs."));
    root.train();
    std::map<std::string, at::Tensor> terms;
    auto loss = source_loss(m, batch, &terms);
    CHECK(std::isfinite(loss.item<double>()));
    CHECK(terms.size() == (mti ? 20u : 4u));
    auto out = m.model->forward(batch.images);
    for (auto& t : m.tasks) CHECK(out.predictions.at(t.name).sizes().vec() == Shape{2, t.channels, 32, 32});
    auto latents = m.method->task_latents(*m.model, batch.images);
    CHECK(latents.at("semseg").size(1) == 64);
    auto losses = adapt_on(m, batch.images, 2);
    CHECK(std::isfinite(losses.front()));
  }
}

TEST_CASE("the shipped configs: demo_mtinet.toml is demo.toml with the architecture swapped") {
  auto& registry = test::build_registry();
  const auto root = test::source_dir() / "configs";
  if (!registry.find(ComponentKind::Dataset, "synthetic")) {
    MESSAGE("the synthetic dataset plugin is not in this build: config composition not checked");
    return;
  }
  auto base = validate_experiment(ConfigTree::load(root / "demo.toml"), registry);
  auto mti = validate_experiment(ConfigTree::load(root / "mtinet" / "demo_mtinet.toml"), registry);
  CHECK(base.backbone.name == "resnet");
  CHECK(mti.backbone.name == "mtinet");
  // Every resolved key agrees except the architecture, the run name and the shorter source training.
  std::set<std::string> differing;
  for (auto& [key, entry] : mti.tree.entries()) {
    auto* other = base.tree.find(key);
    if (!other || !(other->value == entry.value)) differing.insert(key);
  }
  for (auto& [key, entry] : base.tree.entries())
    if (!mti.tree.find(key)) differing.insert(key);
  for (auto& key : differing) {
    const bool architecture = key == "model.backbone" || key.rfind("backbone.mtinet.", 0) == 0;
    const bool allowed = architecture || key == "run.name" || key == "train.iterations";
    CHECK_MESSAGE(allowed, key);
  }

  // Both build through the host's own composition (host::build_model), with the same tasks and method.
  auto source = make_dataset(mti, registry, "source");
  auto target = make_dataset(mti, registry, "target");
  auto tasks = resolve_tasks(mti, *source, target.get());
  auto a = build_model(base, registry, tasks, {64, 64}, "s4t");
  auto b = build_model(mti, registry, tasks, {64, 64}, "s4t");
  CHECK(has_prefix(a.model->root(), "heads."));
  CHECK(has_prefix(a.model->root(), "method.ts_comp."));
  CHECK_FALSE(has_prefix(b.model->root(), "heads."));
  CHECK(has_prefix(b.model->root(), "method.ts_proj."));
}

TEST_CASE("parameter counts at paper scale: ResNet-50 MTI-Net, tasks semseg(7)+depth(1)+normals(3)+edge(1)") {
  auto tasks = four_tasks(7);
  auto with = [&](const std::string& method) { return compose({"mtinet", {}}, method, {}, tasks, {256, 256}); };
  auto m = with("none");
  auto& root = m.model->root();
  const std::int64_t total = count(root), trunk = 23508032;  // torchvision ResNet-50 without fc
  const auto mti = count(root, "backbone.") - trunk - count(root, "backbone.reduce.");
  MESSAGE("mtinet (ResNet-50, channels 48/96/192/384): total " << total << " = trunk " << trunk << " + reductions "
          << count(root, "backbone.reduce.") << " + MTI-Net " << mti << " (initial predictions "
          << count(root, "backbone.scale_") << ", FPMs " << count(root, "backbone.fpm_scale_") << ", distillation "
          << count(root, "backbone.distillation_scale_") << ", aggregation heads " << count(root, "backbone.heads.")
          << ")");
  CHECK(count(root, "heads.") == 0);
  CHECK(total == count(root, "backbone."));
  CHECK(total == 124'583'300);
  CHECK(mti == 100'029'348);  // the size of MTI-Net on HRNet-W48 (same widths, same modules)
  {  // the Bottleneck trunk feeds the reductions: one small inference pass
    at::NoGradGuard no_grad;
    root.eval();
    auto out = m.model->forward(at::randn({1, 3, 64, 64}));
    CHECK(out.features.stages[3].size(1) == 2048);
    CHECK(out.features.task_features.at("semseg").sizes().vec() == Shape{1, 720, 16, 16});
    CHECK(out.predictions.at("semseg").sizes().vec() == Shape{1, 7, 64, 64});
    CHECK(out.predictions.at("normals").isfinite().all().item<bool>());
  }
  {
    auto s = with("s4t");
    MESSAGE("mtinet + s4t: total " << count(s.model->root()) << ", method " << count(s.model->root(), "method."));
    // 4 x (1x1 conv 720 -> 64) + aux heads 780 + TBS 4,698,432 (METHODS.md 1.2)
    CHECK(count(s.model->root(), "method.") == 4 * (720 * 64 + 64) + 780 + 4698432);
  }
  if (test::build_registry().find(ComponentKind::Method, "ncttt")) {
    auto n = with("ncttt");
    MESSAGE("mtinet + ncttt: total " << count(n.model->root()) << ", method " << count(n.model->root(), "method.")
                                     << " (supplement: NC-TTT + MTI-Net 165.0 M)");
  }
}
