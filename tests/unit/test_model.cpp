// The host-composed model and BatchNorm modes.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "s4t_doctest.hpp"
#include "s4t/norm.hpp"
#include "tiny_model.hpp"

using namespace s4t;

TEST_CASE("composite model: names, predictions at input size, parameter groups") {
  auto t = test::make_tiny_model("none");
  auto batch = test::random_batch(t.tasks, 2, {48, 40});
  auto out = t.model->forward(batch.images);
  CHECK(out.predictions.at("semseg").sizes().vec() == std::vector<std::int64_t>{2, 3, 48, 40});
  CHECK(out.predictions.at("normals").size(1) == 3);
  CHECK(out.features.fused.size(2) == 8);  // train size 32 / 4, even for a 48x40 input
  bool backbone = false, heads = false;
  for (auto& p : t.model->root().named_parameters(true)) {
    backbone |= p.key().rfind("backbone.conv1.", 0) == 0;
    heads |= p.key().rfind("heads.semseg.", 0) == 0;
  }
  CHECK(backbone);
  CHECK(heads);
  auto counts = t.model->parameter_counts();
  CHECK(counts["total"] == counts["backbone"] + counts["heads"] + counts["method"]);
}

TEST_CASE("norm modes: batch statistics with and without running-statistics updates") {
  auto t = test::make_tiny_model("none");
  auto& root = t.model->root();
  auto running = [&] { return root.named_buffers(true)["backbone.bn1.running_mean"].clone(); };
  auto batch = test::random_batch(t.tasks, 4, {32, 32});
  auto before = running();
  apply_norm_mode(root, NormMode::TrainFrozen);
  t.model->forward(batch.images);
  CHECK(at::equal(before, running()));
  apply_norm_mode(root, NormMode::TrainUpdate);  // momentum restored
  t.model->forward(batch.images);
  CHECK_FALSE(at::equal(before, running()));
  apply_norm_mode(root, NormMode::Eval);
  auto after_eval = running();
  t.model->forward(batch.images);
  CHECK(at::equal(after_eval, running()));
}
