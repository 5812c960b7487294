// s4t with one task's latent only, the task weights at test time, and backbones that give every task
// its own features (MTI-Net-like: one latent projection per task).
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "fake_models.hpp"
#include "s4t/error.hpp"

using namespace s4t;
using namespace s4t::test;

TEST_CASE("s4t plugin: single-task adaptation, task weights at test time and per-task (MTI-Net-like) features") {
  SUBCASE("single-task adaptation and task weights at test time") {
    SUBCASE("an unknown task is refused at attach") {
      FakeModel model(testkit::standard_tasks(3));
      auto method = make_s4t(tiny_options({{"single_task", Value(std::string("albedo"))}}));
      CHECK_THROWS_AS(method->attach(model), ConfigError);
    }
    SUBCASE("only the chosen task's latent reaches the TBS") {
      auto s = make_setup(5, {{"single_task", Value(std::string("depth"))}});
      auto& root = s.model->root();
      root.train();
      at::manual_seed(14);
      s.method->adaptation_loss(*s.model, at::randn({2, 3, 32, 32}), AdaptContext{}).backward();
      auto g = grad_of(root, "method.ts_comp.weight");  // rows: semseg 0..15, depth 16..31, ...
      CHECK(g.narrow(0, 0, 16).abs().sum().item<double>() == 0.0);
      CHECK(g.narrow(0, 16, 16).abs().sum().item<double>() > 0.0);
      CHECK(g.narrow(0, 32, 32).abs().sum().item<double>() == 0.0);
    }
    SUBCASE("double_task_weight: c_t = w_t^2 instead of w_t") {
      // Only `edge` (w = 50): the squared weight multiplies the loss by exactly 50.
      auto a = make_setup(6, {{"single_task", Value(std::string("edge"))}});
      auto b = make_setup(6, {{"single_task", Value(std::string("edge"))}, {"double_task_weight", Value(true)}});
      at::manual_seed(15);
      auto images = at::randn({2, 3, 32, 32});
      const double la = adaptation_loss_value(a, images, 8, NormMode::Eval);
      const double lb = adaptation_loss_value(b, images, 8, NormMode::Eval);
      CHECK(lb == doctest::Approx(50.0 * la));
    }
  }
  SUBCASE("per-task features (MTI-Net-like) use one projection per task") {
    auto s = make_setup(7, {}, /*per_task=*/true);
    auto& root = s.model->root();
    auto names = root.named_parameters(true);
    CHECK_FALSE(names.contains("method.ts_comp.weight"));
    REQUIRE(names.contains("method.ts_proj.normals.weight"));
    CHECK(names["method.ts_proj.normals.weight"].sizes().vec() == std::vector<std::int64_t>{16, 24, 1, 1});
    root.train();
    at::manual_seed(16);
    s.method->adaptation_loss(*s.model, at::randn({2, 3, 32, 32}), AdaptContext{}).backward();
    CHECK(has_gradient(root, "method.ts_proj.semseg.weight"));
    CHECK(has_gradient(root, "method.ts_proj.edge.weight"));
  }
}
