// ClusT3 method plugin.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cmath>

#include "method_runs.hpp"
#include "parameters.hpp"
#include "s4t/losses.hpp"

using namespace s4t;
using namespace s4t::test;

namespace {
testkit::Recipe clust3(std::map<std::string, Value> options = {}) {
  testkit::Recipe r;
  r.method = "clust3";
  r.method_options = std::move(options);
  return r;
}
}  // namespace

TEST_CASE("clust3 method plugin") {
  SUBCASE("cheap factory, source objective, projectors of 15 x K = 10 per layer") {
    testkit::Plugins plugins;
    CHECK(plugins.make_method("clust3"));
    CHECK(plugins.method_traits("clust3").source_objective);
    CHECK_FALSE(plugins.method_traits("clust3").post_training);
    testkit::TinyExperiment x(clust3());
    auto params = x.root().named_parameters(true);
    const auto ch = x.model().feature_info().stage_channels();
    CHECK(params["method.layer1.weight"].sizes().vec() == std::vector<std::int64_t>{150, ch[0], 1, 1});
    CHECK(params["method.layer2.weight"].sizes().vec() == std::vector<std::int64_t>{150, ch[1], 1, 1});
    CHECK(params["method.layer1.bias"].numel() == 150);
  }

  SUBCASE("the loss treats every image alike (permute, not the released code's view)") {
    testkit::TinyExperiment x(clust3());
    auto images = x.random_batch(4, 51).images;
    at::NoGradGuard no_grad;
    x.root().eval();  // per-image features independent of the batch
    double a = x.method().adaptation_loss(x.model(), images, {}).item<double>();
    double b = x.method().adaptation_loss(x.model(), images.flip({0}), {}).item<double>();
    CHECK(a == doctest::Approx(b).epsilon(1e-5));
    // 2 layers x 15 projectors, each H(Z|X) - H(Z) in [-log K, log K]
    CHECK(std::abs(a) <= 30.0 * std::log(10.0));
  }

  SUBCASE("test-time loss falls, only conv1..layer2 adapt, BatchNorm statistics update") {
    for (auto marginal : {"mutual_information", "released_code"}) {
      CAPTURE(marginal);
      testkit::TinyExperiment x(clust3({{"marginal", Value(std::string(marginal))}, {"lr", Value(2e-3)}}));
      auto batch = x.random_batch(8, 52);
      auto before = testkit::clone_state(x.root());
      auto& session = x.session();
      CHECK(session.policy().optimizer.name == "adam");
      CHECK(session.policy().adapt_norm == NormMode::TrainUpdate);
      CHECK(session.policy().predict_norm == NormMode::Eval);
      auto losses = steps(session, batch.images, 8);
      for (double l : losses) CHECK(std::isfinite(l));
      CHECK(losses.back() < losses.front());
      auto changed = testkit::changed(x.root(), before);
      CHECK(changed.count("backbone.layer2.0.conv1.weight"));
      for (auto& name : changed)
        CHECK_MESSAGE((starts_with(name, "backbone.conv1.") || starts_with(name, "backbone.bn1.") ||
                       starts_with(name, "backbone.layer1.") || starts_with(name, "backbone.layer2.")),
                      name);
      auto buffers = testkit::changed(x.root(), before, /*buffers=*/true);
      CHECK(buffers.count("backbone.layer1.0.bn1.running_var"));
    }
  }

  SUBCASE("the source objective trains the projectors") {
    testkit::TinyExperiment x(clust3());
    auto batch = x.random_batch(4, 53);
    std::map<std::string, at::Tensor> main;
    at::Tensor total = x.source_loss(batch, &main);
    CHECK(total.item<double>() != doctest::Approx(weighted_sum(x.tasks(), main).item<double>()));
    total.backward();
    auto params = x.root().named_parameters(true);
    for (auto name : {"method.layer1.weight", "method.layer2.weight", "method.layer2.bias"})
      CHECK_MESSAGE(params[name].grad().abs().sum().item<double>() > 0.0, name);
  }
}
