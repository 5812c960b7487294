// The host-composed model: names, predictions at input size, parameter groups.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "s4t_testkit/doctest.hpp"
#include "s4t_testkit/testkit.hpp"

using namespace s4t;

TEST_CASE("composite model: names, predictions at input size, parameter groups") {
  testkit::TinyExperiment x;
  auto batch = x.random_batch(2, 0, {48, 40});
  auto out = x.model().forward(batch.images);
  CHECK(out.predictions.at("semseg").sizes().vec() == std::vector<std::int64_t>{2, 3, 48, 40});
  CHECK(out.predictions.at("normals").size(1) == 3);
  CHECK(out.features.fused.size(2) == 8);  // train size 32 / 4, even for a 48x40 input
  bool backbone = false, heads = false;
  for (auto& p : x.root().named_parameters(true)) {
    backbone |= p.key().rfind("backbone.conv1.", 0) == 0;
    heads |= p.key().rfind("heads.semseg.", 0) == 0;
  }
  CHECK(backbone);
  CHECK(heads);
  auto counts = x.parameter_counts();
  CHECK(counts["total"] == counts["backbone"] + counts["heads"] + counts["method"]);
}
