// TTT (rotation) method plugin.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/optim/sgd.h>

#include <cmath>

#include "method_runs.hpp"
#include "parameters.hpp"
#include "s4t/losses.hpp"

using namespace s4t;
using namespace s4t::test;

namespace {
testkit::Recipe ttt(std::map<std::string, Value> options = {}) {
  testkit::Recipe r;
  r.method = "ttt";
  r.method_options = std::move(options);
  return r;
}
}  // namespace

TEST_CASE("ttt (rotation) method plugin") {
  SUBCASE("cheap factory, source objective, no post-training, documented options") {
    testkit::Plugins plugins;
    auto info = plugins.info(ComponentKind::Method, "ttt");
    auto method = plugins.make_method("ttt");
    CHECK(method);
    CHECK(plugins.method_traits("ttt").source_objective);
    CHECK_FALSE(plugins.method_traits("ttt").post_training);
    CHECK(info.doc.find("27.49") != std::string::npos);
    for (auto key : {"non_square", "test_rotations", "source_rotations", "adapt_head", "lr", "optimizer"})
      CHECK(info.schema.find(key) != nullptr);
  }

  SUBCASE("rotation loss falls, only the backbone adapts, BatchNorm statistics update") {
    testkit::TinyExperiment x(ttt({{"lr", Value(0.05)}}));
    auto batch = x.random_batch(8, 11);
    auto before = testkit::clone_state(x.root());
    auto& session = x.session();
    CHECK(session.policy().adapt_norm == NormMode::TrainUpdate);
    CHECK(session.policy().predict_norm == NormMode::Eval);
    CHECK(session.policy().optimizer.name == "sgd");
    auto losses = steps(session, batch.images, 8);
    for (double l : losses) CHECK(std::isfinite(l));
    CHECK(losses.front() == doctest::Approx(std::log(4.0)).epsilon(0.3));  // an untrained 4-way head
    CHECK(losses.back() < losses.front());
    auto changed = testkit::changed(x.root(), before);
    CHECK_FALSE(changed.empty());
    for (auto& name : changed) CHECK_MESSAGE(starts_with(name, "backbone."), name);
    CHECK(changed.count("backbone.layer4.0.conv1.weight"));  // every stage feeds the fused map
    auto buffers = testkit::changed(x.root(), before, /*buffers=*/true);
    CHECK(buffers.count("backbone.bn1.running_mean"));
  }

  SUBCASE("adapt_norm = eval keeps the source statistics; adapt_head adapts the head") {
    testkit::TinyExperiment x(ttt({{"adapt_norm", Value(std::string("eval"))},
                                   {"adapt_head", Value(true)},
                                   {"test_rotations", Value(std::string("rand"))},
                                   {"lr", Value(0.05)}}));
    auto batch = x.random_batch(8, 12);
    auto before = testkit::clone_state(x.root());
    auto& session = x.session();
    for (int i = 0; i < 2; ++i) CHECK(std::isfinite(session.step(batch.images, {}).loss));
    CHECK(testkit::changed(x.root(), before, /*buffers=*/true).empty());
    auto changed = testkit::changed(x.root(), before);
    CHECK(changed.count("method.fc.weight"));
    for (auto& name : changed) CHECK_MESSAGE((starts_with(name, "backbone.") || starts_with(name, "method.")), name);
  }

  SUBCASE("the source objective trains the rotation head") {
    testkit::TinyExperiment x(ttt({{"source_rotations", Value(std::string("expand"))}}));
    auto batch = x.random_batch(4, 13);
    std::vector<at::Tensor> head;
    for (auto& p : x.root().named_parameters(true))
      if (starts_with(p.key(), "method.")) head.push_back(p.value());
    REQUIRE(head.size() == 4);  // conv weight/bias, fc weight/bias
    torch::optim::SGD sgd(head, torch::optim::SGDOptions(0.02));
    std::vector<double> aux;
    for (int i = 0; i < 6; ++i) {
      std::map<std::string, at::Tensor> main;
      at::Tensor total = x.source_loss(batch, &main);
      aux.push_back((total.detach() - weighted_sum(x.tasks(), main).detach()).item<double>());
      sgd.zero_grad();
      total.backward();
      if (i == 0)
        for (auto& p : head) CHECK(p.grad().abs().sum().item<double>() > 0.0);
      sgd.step();
    }
    CHECK(aux.front() > 0.0);
    CHECK(aux.back() < aux.front());
  }

  SUBCASE("non-square images are centre-cropped or rotated by half turns only") {
    for (auto mode : {"crop", "half_turns"}) {
      CAPTURE(mode);
      testkit::TinyExperiment x(ttt({{"non_square", Value(std::string(mode))}, {"lr", Value(0.01)}}));
      auto batch = x.random_batch(2, 14, {32, 48});
      CHECK(std::isfinite(x.session().step(batch.images, {}).loss));
      at::Tensor total = x.source_loss(batch);  // the source path too (rand rotations)
      CHECK(std::isfinite(total.item<double>()));
    }
  }
}
