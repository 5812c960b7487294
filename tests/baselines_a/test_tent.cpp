// TENT: entropy minimisation on BatchNorm affine parameters with test-batch statistics.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/utils.h>

#include <cmath>

#include "baseline_test_util.hpp"
#include "s4t/error.hpp"
#include "s4t/norm.hpp"
#include "s4t_doctest.hpp"

using namespace s4t;

TEST_CASE("tent: the entropy loss is finite and falls on a fixed batch") {
  torch::manual_seed(0);
  auto t = test::make_tiny_model("tent");
  auto batch = test::random_batch(t.tasks, 4, {32, 32}, 1);
  test::HostLikeAdapter adapter(t, 1e-2);
  auto losses = adapter.run(batch.images, 8);
  MESSAGE("tent losses: first " << losses.front() << ", last " << losses.back());
  for (double l : losses) CHECK(std::isfinite(l));
  CHECK(losses.front() > 0.0);
  CHECK(losses.back() < losses.front());
}

TEST_CASE("tent: only BatchNorm affine parameters change and the source statistics are never touched") {
  torch::manual_seed(0);
  auto t = test::make_tiny_model("tent");
  auto& root = t.model->root();
  auto batch = test::random_batch(t.tasks, 4, {32, 32}, 2);
  test::HostLikeAdapter adapter(t, 1e-2);
  CHECK(adapter.policy.adapt_norm == NormMode::TrainFrozen);
  CHECK(adapter.policy.predict_norm == NormMode::TrainFrozen);
  const auto bn_affine = test::batchnorm_affine_names(root);
  CHECK(std::set<std::string>(adapter.selected.begin(), adapter.selected.end()) == bn_affine);
  CHECK(bn_affine.size() == 40);  // 20 BatchNorm layers in ResNet-18, weight + bias each

  auto before = test::clone_state(root);
  adapter.run(batch.images, 3);
  auto preds = adapter.predict(batch.images);
  CHECK(test::changed(root, before) == bn_affine);  // every γ/β moved, nothing else did
  for (auto& name : test::running_stat_names(root))
    CHECK_MESSAGE(at::equal(root.named_buffers(true)[name], before.at(name)), name);

  // Prediction uses the test batch's statistics: a sample's output depends on its batch-mates.
  auto pair = adapter.predict(batch.images.slice(0, 0, 2));
  CHECK_FALSE(at::allclose(pair.at("semseg")[0], preds.at("semseg")[0], 1e-4, 1e-5));
}

TEST_CASE("tent: edge adds a binary entropy and regression tasks are refused") {
  torch::manual_seed(0);
  auto batch_tasks = test::make_tiny_model("tent").tasks;
  auto batch = test::random_batch(batch_tasks, 4, {32, 32}, 3);
  auto semseg_only = test::make_tiny_model("tent");
  auto with_edge = test::make_tiny_model("tent", {.method_options = {{"tasks", Value(std::vector<std::string>{"semseg", "edge"})}}});
  // Same initial weights for both models.
  load_state_dict(with_edge.model->root(), state_dict_of(semseg_only.model->root()));
  semseg_only.model->root().train();
  with_edge.model->root().train();
  apply_norm_mode(semseg_only.model->root(), NormMode::TrainFrozen);
  apply_norm_mode(with_edge.model->root(), NormMode::TrainFrozen);
  auto a = semseg_only.method->adaptation_loss(*semseg_only.model, batch.images, {}).item<double>();
  auto b = with_edge.method->adaptation_loss(*with_edge.model, batch.images, {}).item<double>();
  CHECK(std::isfinite(b));
  CHECK(b > a);
  CHECK(b - a <= std::log(2.0) + 1e-6);  // a binary entropy is at most log 2
  CHECK_THROWS_AS(test::make_tiny_model("tent", {.method_options = {{"tasks", Value(std::vector<std::string>{"depth"})}}}),
                  ConfigError);
}
