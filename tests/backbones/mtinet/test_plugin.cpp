// The `mtinet` backbone plugin (MTI-Net on ResNet stages) composed by the test kit: Features and
// FeatureInfo, parameter names, norm outputs, the pretrained trunk, training with deep supervision, and
// its parameter count at paper scale. Tiny widths and 32x32 images keep the suite fast.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>

#include <cmath>

#include "compose.hpp"
#include "s4t/state_dict.hpp"
#include "test_support.hpp"

using namespace s4t;
using namespace s4t::test;

TEST_CASE("mtinet plugin: Features, FeatureInfo, parameter names, norm outputs") {
  auto m = compose(tiny_mtinet(), "none");
  const auto& info = m->model().feature_info();
  CHECK(info.provides_predictions);
  CHECK(info.fused_channels == 0);
  CHECK(info.stage_channels() == Shape{8, 16, 32, 64});
  CHECK(info.stage_strides() == Shape{4, 8, 16, 32});
  for (auto& t : m->tasks()) CHECK(info.task_feature_channels.at(t.name) == 8 + 8 + 16 + 16);

  auto& root = m->root();
  root.train();
  auto batch = m->random_batch(2, 1);
  auto out = m->model().forward(batch.images);
  REQUIRE(out.features.stages.size() == 4);
  CHECK(out.features.stages[3].sizes().vec() == Shape{2, 64, 1, 1});
  for (auto& t : m->tasks()) {
    CHECK(out.features.task_features.at(t.name).sizes().vec() == Shape{2, 48, 8, 8});
    CHECK(out.features.task_predictions.at(t.name).sizes().vec() == Shape{2, t.channels, 32, 32});
    CHECK(out.predictions.at(t.name).sizes().vec() == Shape{2, t.channels, 32, 32});
    CHECK(at::equal(out.predictions.at(t.name), out.features.task_predictions.at(t.name)));
    REQUIRE(out.features.deep_supervision.at(t.name).size() == 4);
    for (auto& p : out.features.deep_supervision.at(t.name)) CHECK(p.sizes().vec() == Shape{2, t.channels, 32, 32});
  }
  // Deep supervision only in training mode.
  root.eval();
  CHECK(m->model().forward(batch.images).features.deep_supervision.empty());
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
  CHECK_FALSE(has_parameter_prefix(root, "backbone.fpm_scale_0."));
  CHECK_FALSE(has_parameter_prefix(root, "backbone.scale_3.refinement.semseg.0.downsample."));  // c_3 in = c_3 out
  CHECK_FALSE(has_parameter_prefix(root, "backbone.distillation_scale_0.self_attention.depth.depth."));
  CHECK_FALSE(has_parameter_prefix(root, "heads."));
  CHECK(state.at("backbone.heads.semseg.last_layer.3.weight").sizes().vec() == Shape{3, 48, 1, 1});

  // stages_only stops after the trunk; record_norm_outputs covers the trunk and MTI-Net.
  ForwardOptions fo;
  fo.stages_only = true;
  fo.record_norm_outputs = true;
  auto trunk_only = m->model().features(batch.images, fo);
  CHECK(trunk_only.task_features.empty());
  CHECK(trunk_only.norm_outputs.size() == 1 + 8 * 2 + 3);  // ResNet-18: stem + 2 per block + 3 downsample BNs
  fo.stages_only = false;
  auto all = m->model().features(batch.images, fo);
  std::int64_t bns = 0;
  for (auto& mod : root.modules(false))
    if (mod->as<torch::nn::BatchNorm2dImpl>()) ++bns;
  CHECK(static_cast<std::int64_t>(all.norm_outputs.size()) == bns);  // every BatchNorm runs once per pass

  // The "aggregated" task features are the head's hidden map; "reference" FPM attention changes outputs.
  auto agg = compose(tiny_mtinet({{"task_features", Value(std::string("aggregated"))}}), "none");
  agg->root().eval();
  CHECK(agg->model().features(batch.images).task_features.at("depth").sizes().vec() == Shape{2, 48, 8, 8});
  auto ref = compose(tiny_mtinet({{"fpm_attention", Value(std::string("reference"))}}), "none");
  CHECK(count_parameters(ref->root()) == count_parameters(root));

  CHECK_THROWS_WITH(compose(tiny_mtinet({{"channels", Value(std::vector<std::int64_t>{8, 8, 8})}}), "none"),
                    doctest::Contains("4 widths"));
}

TEST_CASE("a torchvision state dict loads into the MTI-Net trunk through `pretrained`") {
  test::TempDir dir;
  auto plain = compose(tiny_resnet(), "none");
  StateDict state, prefixed;
  for (auto& [k, v] : state_dict_of(*plain->root().named_children()["backbone"]))
    state[k] = at::randn_like(v.to(at::kFloat)).to(v.dtype());
  state["fc.weight"] = at::randn({10, 64});
  state["fc.bias"] = at::randn({10});
  for (auto& [k, v] : state) prefixed["backbone." + k] = v;
  prefixed["heads.semseg.weight"] = at::randn({3});  // outside the prefix: ignored
  write_state_dict(dir.path() / "r18.pth", state);
  write_state_dict(dir.path() / "model.pth", prefixed);

  auto m = compose(tiny_mtinet({{"pretrained", Value((dir.path() / "r18.pth").string())}}), "none");
  auto got = state_dict_of(m->root());
  CHECK(at::equal(got.at("backbone.layer2.1.conv2.weight"), state.at("layer2.1.conv2.weight")));
  CHECK(at::equal(got.at("backbone.bn1.running_var"), state.at("bn1.running_var")));
  auto p = compose(tiny_mtinet({{"pretrained", Value((dir.path() / "model.pth").string())},
                                {"pretrained_prefix", Value(std::string("backbone."))}}),
                   "none");
  CHECK(at::equal(state_dict_of(p->root()).at("backbone.layer3.0.downsample.0.weight"),
                  state.at("layer3.0.downsample.0.weight")));
  state.erase("layer3.0.conv1.weight");
  write_state_dict(dir.path() / "broken.pth", state);
  CHECK_THROWS_WITH(compose(tiny_mtinet({{"pretrained", Value((dir.path() / "broken.pth").string())}}), "none"),
                    doctest::Contains("layer3.0.conv1.weight"));
}

TEST_CASE("a tiny MTI-Net trains: the loss with deep supervision falls over 20 Adam steps") {
  auto m = compose(tiny_mtinet(), "none");
  auto batch = m->random_batch(4, 3);
  std::map<std::string, at::Tensor> terms;
  m->source_loss(batch, &terms);
  CHECK(terms.size() == 4 * 5);  // per task: main output + 4 deep-supervision scales
  CHECK(terms.count("normals@ds3") == 1);
  std::vector<double> losses;
  for (int i = 0; i < 20; ++i) losses.push_back(m->source_step(batch, 1e-2));
  for (double l : losses) REQUIRE(std::isfinite(l));
  MESSAGE("tiny MTI-Net source loss: step 1 " << losses.front() << ", step 20 " << losses.back());
  CHECK(losses.back() < 0.85 * losses.front());
}

TEST_CASE("parameter counts at paper scale: ResNet-50 MTI-Net, tasks semseg(7)+depth(1)+normals(3)+edge(1)") {
  auto tasks = testkit::standard_tasks(7);
  auto with = [&](const std::string& method) { return compose({"mtinet", {}}, method, {}, tasks, {256, 256}); };
  auto m = with("none");
  auto& root = m->root();
  const std::int64_t total = count_parameters(root), trunk = 23508032;  // torchvision ResNet-50 without fc
  const auto mti = count_parameters(root, "backbone.") - trunk - count_parameters(root, "backbone.reduce.");
  MESSAGE("mtinet (ResNet-50, channels 48/96/192/384): total "
          << total << " = trunk " << trunk << " + reductions " << count_parameters(root, "backbone.reduce.")
          << " + MTI-Net " << mti << " (initial predictions " << count_parameters(root, "backbone.scale_") << ", FPMs "
          << count_parameters(root, "backbone.fpm_scale_") << ", distillation "
          << count_parameters(root, "backbone.distillation_scale_") << ", aggregation heads "
          << count_parameters(root, "backbone.heads.") << ")");
  CHECK(count_parameters(root, "heads.") == 0);
  CHECK(total == count_parameters(root, "backbone."));
  CHECK(total == 124'583'300);
  CHECK(mti == 100'029'348);  // the size of MTI-Net on HRNet-W48 (same widths, same modules)
  {  // the Bottleneck trunk feeds the reductions: one small inference pass
    at::NoGradGuard no_grad;
    root.eval();
    auto out = m->model().forward(at::randn({1, 3, 64, 64}));
    CHECK(out.features.stages[3].size(1) == 2048);
    CHECK(out.features.task_features.at("semseg").sizes().vec() == Shape{1, 720, 16, 16});
    CHECK(out.predictions.at("semseg").sizes().vec() == Shape{1, 7, 64, 64});
    CHECK(out.predictions.at("normals").isfinite().all().item<bool>());
  }
  {
    auto s = with("s4t");
    MESSAGE("mtinet + s4t: total " << count_parameters(s->root()) << ", method "
                                   << count_parameters(s->root(), "method."));
    // 4 x (1x1 conv 720 -> 64) + aux heads 780 + TBS 4,698,432 (the paper's TBS)
    CHECK(count_parameters(s->root(), "method.") == 4 * (720 * 64 + 64) + 780 + 4698432);
  }
  {
    auto n = with("ncttt");
    MESSAGE("mtinet + ncttt: total " << count_parameters(n->root()) << ", method "
                                     << count_parameters(n->root(), "method.") << " (supplement: NC-TTT + MTI-Net 165.0 M)");
  }
}
