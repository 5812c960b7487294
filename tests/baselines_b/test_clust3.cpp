// ClusT3 method plugin: METHODS.md §2.6.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cmath>

#include "baseline_helpers.hpp"
#include "s4t/norm.hpp"
#include "s4t_doctest.hpp"

using namespace s4t;
using namespace s4t::test;

TEST_CASE("clust3 method plugin") {
  SUBCASE("cheap factory, source objective, projectors of 15 x K = 10 per layer") {
    auto method =
        build_registry().make_method("clust3", BuildContext{}, component_options(ComponentKind::Method, "clust3"));
    CHECK(method->has_source_objective());
    CHECK_FALSE(method->has_post_training());
    auto t = make_tiny_model("clust3");
    auto params = t.model->root().named_parameters(true);
    const auto& ch = t.model->feature_info().stage_channels;
    CHECK(params["method.layer1.weight"].sizes().vec() == std::vector<std::int64_t>{150, ch[0], 1, 1});
    CHECK(params["method.layer2.weight"].sizes().vec() == std::vector<std::int64_t>{150, ch[1], 1, 1});
    CHECK(params["method.layer1.bias"].numel() == 150);
  }

  SUBCASE("the loss treats every image alike (permute, not the released code's view)") {
    auto t = make_tiny_model("clust3");
    auto images = random_batch(t.tasks, 4, {32, 32}, 51).images;
    at::NoGradGuard no_grad;
    t.model->root().eval();  // per-image features independent of the batch
    double a = t.method->adaptation_loss(*t.model, images, {}).item<double>();
    double b = t.method->adaptation_loss(*t.model, images.flip({0}), {}).item<double>();
    CHECK(a == doctest::Approx(b).epsilon(1e-5));
    // 2 layers x 15 projectors, each H(Z|X) - H(Z) in [-log K, log K]
    CHECK(std::abs(a) <= 30.0 * std::log(10.0));
  }

  SUBCASE("test-time loss falls, only conv1..layer2 adapt, BatchNorm statistics update") {
    for (auto marginal : {"mutual_information", "released_code"}) {
      CAPTURE(marginal);
      auto t = make_tiny_model("clust3", with_options({{"marginal", Value(std::string(marginal))}}));
      auto batch = random_batch(t.tasks, 8, {32, 32}, 52);
      auto before = snapshot(t);
      AdaptEmulator a(t, /*lr=*/2e-3);
      CHECK(a.policy().optimizer.name == "adam");
      CHECK(a.policy().adapt_norm == NormMode::TrainUpdate);
      CHECK(a.policy().predict_norm == NormMode::Eval);
      std::vector<double> losses;
      for (int i = 0; i < 8; ++i) losses.push_back(a.step(batch.images, {i + 1, 0}));
      for (double l : losses) CHECK(std::isfinite(l));
      CHECK(losses.back() < losses.front());
      auto after = snapshot(t);
      auto changed = changed_parameters(t, before, after);
      CHECK(changed.count("backbone.layer2.0.conv1.weight"));
      for (auto& name : changed)
        CHECK_MESSAGE((starts_with(name, "backbone.conv1.") || starts_with(name, "backbone.bn1.") ||
                       starts_with(name, "backbone.layer1.") || starts_with(name, "backbone.layer2.")),
                      name);
      auto buffers = changed_buffers(t, before, after);
      CHECK(buffers.count("backbone.layer1.0.bn1.running_var"));
    }
  }

  SUBCASE("the source objective trains the projectors") {
    auto t = make_tiny_model("clust3");
    auto batch = random_batch(t.tasks, 4, {32, 32}, 53);
    at::Tensor main;
    at::Tensor total = source_total(t, batch, &main);
    CHECK(total.item<double>() != doctest::Approx(main.item<double>()));
    total.backward();
    auto params = t.model->root().named_parameters(true);
    for (auto name : {"method.layer1.weight", "method.layer2.weight", "method.layer2.bias"})
      CHECK_MESSAGE(params[name].grad().abs().sum().item<double>() > 0.0, name);
  }
}
