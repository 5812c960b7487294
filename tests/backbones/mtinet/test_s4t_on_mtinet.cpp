// S4T on MTI-Net: per-task latents, the source objective with deep supervision and a falling test-time
// loss through the host's session; swapping resnet + conv1x1 heads for mtinet changes only the config.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cmath>

#include "compose.hpp"
#include "s4t/state_dict.hpp"

using namespace s4t;
using namespace s4t::test;

TEST_CASE("S4T on MTI-Net: per-task latents, source objective, and a falling test-time loss") {
  // Small TBS for a 32x32 model: 16x16 grid, 4x4 patches -> 16 tokens, half of them visible.
  std::map<std::string, Value> s4t_options{{"tbs_input_res", Value(std::int64_t{16})},
                                           {"patch_size", Value(std::int64_t{4})},
                                           {"mask_ratio", Value(0.5)},
                                           {"lr", Value(0.05)}};
  auto m = compose(tiny_mtinet(), "s4t", s4t_options);
  auto& root = m->root();
  // S4T reads Features::task_features: one 1x1 projection per task, to 64 latent channels.
  CHECK(has_parameter_prefix(root, "method.ts_proj.semseg."));
  CHECK_FALSE(has_parameter_prefix(root, "method.ts_comp."));
  CHECK(state_dict_of(root).at("method.ts_proj.edge.weight").sizes().vec() == Shape{64, 48, 1, 1});

  auto batch = m->random_batch(4, 5);
  root.train();
  auto loss = m->source_loss(batch);
  REQUIRE(std::isfinite(loss.item<double>()));
  loss.backward();  // the source objective reaches MTI-Net and the S4T modules
  for (auto* name : {"backbone.layer1.0.conv1.weight", "backbone.distillation_scale_1.self_attention.depth.semseg.conv.weight",
                     "backbone.scale_3.decoders.edge.weight", "method.ts_proj.depth.weight"}) {
    auto g = root.named_parameters(true)[name].grad();
    CHECK_MESSAGE((g.defined() && g.abs().sum().item<double>() > 0), name);
  }
  for (auto& p : root.parameters(true)) p.mutable_grad() = at::Tensor();

  auto latents = m->method().task_latents(m->model(), batch.images);
  CHECK(latents.at("normals").sizes().vec() == Shape{4, 64, 8, 8});

  auto before = state_dict_of(root);
  StateDict snapshot;
  for (auto& [k, v] : before) snapshot[k] = v.detach().clone();
  auto losses = adapt_on(*m, batch.images, 8);
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
  auto batch = testkit::random_batch(testkit::standard_tasks(), 2, {32, 32}, 9);
  for (auto& arch : {tiny_resnet(), tiny_mtinet()}) {
    CAPTURE(arch.backbone);
    auto m = compose(arch, "s4t", s4t_options);  // the same call, only `arch` differs
    auto& root = m->root();
    const bool mti = arch.backbone == "mtinet";
    CHECK(has_parameter_prefix(root, "heads.") == !mti);
    CHECK(has_parameter_prefix(root, "method.ts_comp.") == !mti);
    CHECK(has_parameter_prefix(root, "method.ts_proj.") == mti);
    CHECK(has_parameter_prefix(root, "method.tbs."));
    root.train();
    std::map<std::string, at::Tensor> terms;
    auto loss = m->source_loss(batch, &terms);
    CHECK(std::isfinite(loss.item<double>()));
    CHECK(terms.size() == (mti ? 20u : 4u));
    auto out = m->model().forward(batch.images);
    for (auto& t : m->tasks()) CHECK(out.predictions.at(t.name).sizes().vec() == Shape{2, t.channels, 32, 32});
    auto latents = m->method().task_latents(m->model(), batch.images);
    CHECK(latents.at("semseg").size(1) == 64);
    auto losses = adapt_on(*m, batch.images, 2);
    CHECK(std::isfinite(losses.front()));
  }
}
