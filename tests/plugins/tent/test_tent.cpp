// TENT: entropy minimisation on BatchNorm affine parameters with test-batch statistics.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/utils.h>

#include <cmath>

#include "method_runs.hpp"
#include "parameters.hpp"
#include "s4t/error.hpp"

using namespace s4t;

namespace {
testkit::Recipe tent(std::map<std::string, Value> options = {}) {
  testkit::Recipe r;
  r.method = "tent";
  r.method_options = std::move(options);
  return r;
}
}  // namespace

TEST_CASE("tent: the entropy loss is finite and falls on a fixed batch") {
  testkit::TinyExperiment x(tent({{"lr", Value(1e-2)}}));
  auto batch = x.random_batch(4, 1);
  auto losses = test::steps(x.session(), batch.images, 8);
  MESSAGE("tent losses: first " << losses.front() << ", last " << losses.back());
  for (double l : losses) CHECK(std::isfinite(l));
  CHECK(losses.front() > 0.0);
  CHECK(losses.back() < losses.front());
}

TEST_CASE("tent: only BatchNorm affine parameters change and the source statistics are never touched") {
  testkit::TinyExperiment x(tent({{"lr", Value(1e-2)}}));
  auto& root = x.root();
  auto batch = x.random_batch(4, 2);
  auto& session = x.session();
  CHECK(session.policy().adapt_norm == NormMode::TrainFrozen);
  CHECK(session.policy().predict_norm == NormMode::TrainFrozen);
  const auto bn_affine = test::batchnorm_affine_names(root);
  CHECK(std::set<std::string>(session.adapted_names().begin(), session.adapted_names().end()) == bn_affine);
  CHECK(bn_affine.size() == 40);  // 20 BatchNorm layers in ResNet-18, weight + bias each

  auto before = testkit::clone_state(root);
  test::steps(session, batch.images, 3);
  auto preds = session.predict(batch.images);
  CHECK(testkit::changed(root, before) == bn_affine);  // every γ/β moved, nothing else did
  for (auto& name : test::running_stat_names(root))
    CHECK_MESSAGE(at::equal(root.named_buffers(true)[name], before.at(name)), name);

  // Prediction uses the test batch's statistics: a sample's output depends on its batch-mates.
  auto pair = session.predict(batch.images.slice(0, 0, 2));
  CHECK_FALSE(at::allclose(pair.at("semseg")[0], preds.at("semseg")[0], 1e-4, 1e-5));
}

TEST_CASE("tent: edge adds a binary entropy and regression tasks are refused") {
  testkit::TinyExperiment semseg_only(tent());
  testkit::TinyExperiment with_edge(tent({{"tasks", Value(std::vector<std::string>{"semseg", "edge"})}}));
  auto batch = semseg_only.random_batch(4, 3);
  // Same initial weights for both models.
  load_state_dict(with_edge.root(), state_dict_of(semseg_only.root()));
  auto a = test::loss_in_mode(semseg_only, batch.images, NormMode::TrainFrozen).item<double>();
  auto b = test::loss_in_mode(with_edge, batch.images, NormMode::TrainFrozen).item<double>();
  CHECK(std::isfinite(b));
  CHECK(b > a);
  CHECK(b - a <= std::log(2.0) + 1e-6);  // a binary entropy is at most log 2
  CHECK_THROWS_AS(testkit::TinyExperiment(tent({{"tasks", Value(std::vector<std::string>{"depth"})}})), ConfigError);
}

TEST_CASE("tent: registered without a source objective or post-training (adapts the shared Base checkpoint)") {
  testkit::TinyExperiment x(tent());
  CHECK_FALSE(x.method_traits().source_objective);
  CHECK_FALSE(x.method_traits().post_training);
}
