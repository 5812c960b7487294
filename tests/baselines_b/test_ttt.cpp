// TTT (rotation) method plugin: METHODS.md §2.3.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/optim/sgd.h>

#include <cmath>

#include "baseline_helpers.hpp"
#include "s4t/norm.hpp"
#include "s4t_doctest.hpp"

using namespace s4t;
using namespace s4t::test;

TEST_CASE("ttt (rotation) method plugin") {
  SUBCASE("cheap factory, source objective, no post-training, documented options") {
    auto& c = build_registry().get(ComponentKind::Method, "ttt");
    auto method = build_registry().make_method("ttt", BuildContext{}, component_options(ComponentKind::Method, "ttt"));
    CHECK(method->has_source_objective());
    CHECK_FALSE(method->has_post_training());
    CHECK(c.info.doc.find("27.49") != std::string::npos);
    for (auto key : {"non_square", "test_rotations", "source_rotations", "adapt_head", "lr", "optimizer"})
      CHECK(c.info.schema.find(key) != nullptr);
  }

  SUBCASE("rotation loss falls, only the backbone adapts, BatchNorm statistics update") {
    auto t = make_tiny_model("ttt");
    auto batch = random_batch(t.tasks, 8, {32, 32}, 11);
    auto before = snapshot(t);
    AdaptEmulator a(t, /*lr=*/0.05);
    CHECK(a.policy().adapt_norm == NormMode::TrainUpdate);
    CHECK(a.policy().predict_norm == NormMode::Eval);
    CHECK(a.policy().optimizer.name == "sgd");
    std::vector<double> losses;
    for (int i = 0; i < 8; ++i) losses.push_back(a.step(batch.images, {i + 1, 0}));
    for (double l : losses) CHECK(std::isfinite(l));
    CHECK(losses.front() == doctest::Approx(std::log(4.0)).epsilon(0.3));  // an untrained 4-way head
    CHECK(losses.back() < losses.front());
    auto after = snapshot(t);
    auto changed = changed_parameters(t, before, after);
    CHECK_FALSE(changed.empty());
    for (auto& name : changed) CHECK_MESSAGE(starts_with(name, "backbone."), name);
    CHECK(changed.count("backbone.layer4.0.conv1.weight"));  // every stage feeds the fused map
    auto buffers = changed_buffers(t, before, after);
    CHECK(buffers.count("backbone.bn1.running_mean"));
  }

  SUBCASE("adapt_norm = eval keeps the source statistics; adapt_head adapts the head") {
    auto t = make_tiny_model("ttt", with_options({{"adapt_norm", Value(std::string("eval"))},
                                                  {"adapt_head", Value(true)},
                                                  {"test_rotations", Value(std::string("rand"))}}));
    auto batch = random_batch(t.tasks, 8, {32, 32}, 12);
    auto before = snapshot(t);
    AdaptEmulator a(t, 0.05);
    for (int i = 0; i < 2; ++i) CHECK(std::isfinite(a.step(batch.images)));
    auto after = snapshot(t);
    CHECK(changed_buffers(t, before, after).empty());
    auto changed = changed_parameters(t, before, after);
    CHECK(changed.count("method.fc.weight"));
    for (auto& name : changed) CHECK_MESSAGE((starts_with(name, "backbone.") || starts_with(name, "method.")), name);
  }

  SUBCASE("the source objective trains the rotation head") {
    auto t = make_tiny_model("ttt", with_options({{"source_rotations", Value(std::string("expand"))}}));
    auto batch = random_batch(t.tasks, 4, {32, 32}, 13);
    std::vector<at::Tensor> head;
    for (auto& p : t.model->root().named_parameters(true))
      if (starts_with(p.key(), "method.")) head.push_back(p.value());
    REQUIRE(head.size() == 4);  // conv weight/bias, fc weight/bias
    torch::optim::SGD sgd(head, torch::optim::SGDOptions(0.02));
    std::vector<double> aux;
    for (int i = 0; i < 6; ++i) {
      at::Tensor main;
      at::Tensor total = source_total(t, batch, &main);
      aux.push_back((total.detach() - main).item<double>());
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
      auto t = make_tiny_model("ttt", with_options({{"non_square", Value(std::string(mode))}}));
      auto batch = random_batch(t.tasks, 2, {32, 48}, 14);
      AdaptEmulator a(t, 0.01);
      CHECK(std::isfinite(a.step(batch.images)));
      at::Tensor total = source_total(t, batch);  // the source path too (rand rotations)
      CHECK(std::isfinite(total.item<double>()));
    }
  }
}
