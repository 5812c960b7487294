// The heads plugin: conv1x1 (the S4T main head) and conv_decoder on the fused map, composed as a run does.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "s4t_testkit/doctest.hpp"
#include "s4t_testkit/testkit.hpp"

using namespace s4t;

TEST_CASE("conv1x1: one 1x1 convolution per task on the fused map, 46,092 parameters at paper scale") {
  testkit::Recipe r;
  r.backbone_options = {{"depth", Value(std::int64_t{50})}, {"width", Value(std::int64_t{64})}};
  r.tasks = testkit::standard_tasks(7);
  r.image_size = {256, 256};
  testkit::TinyExperiment x(r);
  CHECK(x.parameter_counts()["heads"] == 3840 * 12 + 12);  // 12 outputs on the 3840-channel fused map
  CHECK(x.root().named_parameters(true)["heads.normals.weight"].sizes().vec() == std::vector<std::int64_t>{3, 3840, 1, 1});
}

TEST_CASE("conv_decoder: 3x3 conv + BatchNorm + ReLU + 1x1 conv per task, predictions at input size") {
  testkit::Recipe r;
  r.head = "conv_decoder";
  r.head_options = {{"hidden", Value(std::int64_t{16})}};
  testkit::TinyExperiment x(r);
  const std::int64_t fused = x.model().feature_info().fused_channels;  // 120 for ResNet-18 width 8
  std::int64_t expected = 0;
  for (auto& t : x.tasks()) expected += fused * 16 * 9 + 2 * 16 + 16 * t.channels + t.channels;
  CHECK(x.parameter_counts()["heads"] == expected);
  auto batch = x.random_batch(2, 1, {40, 48});
  auto predictions = x.session().predict(batch.images);
  for (auto& t : x.tasks()) {
    CAPTURE(t.name);
    CHECK(predictions.at(t.name).sizes().vec() == std::vector<std::int64_t>{2, t.channels, 40, 48});
  }
}
