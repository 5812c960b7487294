// The MTI-Net modules themselves (compiled into this test: the plugin's symbols are hidden): outputs at
// every scale, and the stacked distillation convolution against the reference's per-pair blocks.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <map>

#include "mtinet_modules.hpp"
#include "parameters.hpp"
#include "s4t_testkit/doctest.hpp"

using namespace s4t;

namespace {
using Shape = std::vector<std::int64_t>;
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
  CHECK(test::count_parameters(*single) == 0);
  CHECK(at::equal(single->forward({phi[0]})[0], phi[0]));
}
