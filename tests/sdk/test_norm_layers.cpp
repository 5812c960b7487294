// NormLayers: batch statistics with and without running-statistics updates, and running statistics.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "s4t/norm.hpp"
#include "s4t_testkit/doctest.hpp"
#include "s4t_testkit/testkit.hpp"

using namespace s4t;

TEST_CASE("norm modes: batch statistics with and without running-statistics updates") {
  testkit::TinyExperiment x;
  auto& root = x.root();
  NormLayers& layers = x.norm_layers();
  CHECK(layers.size() == 20);  // the BatchNorm layers of ResNet-18
  auto running = [&] { return root.named_buffers(true)["backbone.bn1.running_mean"].clone(); };
  auto batch = x.random_batch(4);
  auto before = running();
  root.train();
  layers.apply(NormMode::TrainFrozen);
  x.model().forward(batch.images);
  CHECK(at::equal(before, running()));
  layers.apply(NormMode::TrainUpdate);  // momentum restored
  x.model().forward(batch.images);
  CHECK_FALSE(at::equal(before, running()));
  layers.apply(NormMode::Eval);
  auto after_eval = running();
  x.model().forward(batch.images);
  CHECK(at::equal(after_eval, running()));
}
