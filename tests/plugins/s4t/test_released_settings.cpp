// The options that reach the released S4T code's settings (docs/methods.md#fidelity-to-the-released-code):
// explicit test-time task weights c_t, the test-time uncertainty weighting (value, σ adapting, σ reset),
// the TBS decoder's own width and heads, and the Taskonomy-source normals loss quirk.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cmath>

#include "fake_models.hpp"
#include "released_normals_loss.hpp"
#include "s4t/losses.hpp"
#include "s4t/state_dict.hpp"

using namespace s4t;
using namespace s4t::test;

namespace {
Value weights(std::vector<double> w) { return Value(std::move(w)); }

// The test-time loss of a fresh fake model (seed 21) with s4t `overrides`, on fixed images and mask.
double loss_with(const std::map<std::string, Value>& overrides) {
  auto s = make_setup(21, overrides);
  at::manual_seed(22);
  auto images = at::randn({2, 3, 32, 32});
  return adaptation_loss_value(s, images, 23, NormMode::TrainFrozen);
}
// λ^TBS·L1_t of task k alone (c = unit vector k).
std::vector<double> per_task_terms() {
  std::vector<double> out;
  for (int k = 0; k < 4; ++k) {
    std::vector<double> c(4, 0.0);
    c[static_cast<size_t>(k)] = 1.0;
    out.push_back(loss_with({{"ttt_task_weights", weights(c)}}));
  }
  return out;
}
}  // namespace

TEST_CASE("s4t plugin: test-time task weights c_t (explicit, w_t, w_t^2)") {
  const auto l = per_task_terms();
  for (double v : l) CHECK(v > 0.0);
  // Tasks semseg, depth, normals, edge with w = 1, 1, 10, 50.
  auto combine = [&](std::vector<double> c) {
    double sum = 0.0;
    for (size_t k = 0; k < c.size(); ++k) sum += c[k] * l[k];
    return sum;
  };
  CHECK(loss_with({}) == doctest::Approx(combine({1, 1, 10, 50})).epsilon(1e-5));
  CHECK(loss_with({{"double_task_weight", Value(true)}}) == doctest::Approx(combine({1, 1, 100, 2500})).epsilon(1e-5));
  CHECK(loss_with({{"ttt_task_weights", weights({1, 1, 100, 2500})}}) ==
        doctest::Approx(combine({1, 1, 100, 2500})).epsilon(1e-5));
  CHECK(loss_with({{"ttt_task_weights", weights({2, 0, 0, 3})}}) == doctest::Approx(combine({2, 0, 0, 3})).epsilon(1e-5));

  SUBCASE("a list of the wrong length names the key and the tasks") {
    auto m = make_s4t(tiny_options({{"ttt_task_weights", weights({1, 2, 3})}}));
    FakeModel model(testkit::standard_tasks(3));
    try {
      model.attach(m);
      FAIL("attach accepted 3 weights for 4 tasks");
    } catch (const ConfigError& e) {
      const std::string what = e.what();
      CHECK(what.find("ttt_task_weights") != std::string::npos);
      CHECK(what.find("semseg, depth, normals, edge") != std::string::npos);
    }
  }
  SUBCASE("double_task_weight with explicit weights is refused") {
    CHECK_THROWS_AS(make_s4t({{"double_task_weight", Value(true)}, {"ttt_task_weights", weights({1, 1, 1, 1})}}),
                    ConfigError);
    CHECK_THROWS_AS(make_s4t({{"double_task_weight", Value(true)}, {"ttt_weighting", Value(std::string("uncertainty"))}}),
                    ConfigError);
  }
}

TEST_CASE("s4t plugin: test-time uncertainty weighting (the released Taskonomy-target loss)") {
  const std::map<std::string, Value> awl{{"ttt_weighting", Value(std::string("uncertainty"))}};
  const auto l = per_task_terms();  // λ^TBS·L1_t

  // σ = 1: Σ_t 0.5·λ·L1_t + log 2, the task weights w_t unused.
  const double expected = 0.5 * (l[0] + l[1] + l[2] + l[3]) + 4.0 * std::log(2.0);
  CHECK(loss_with(awl) == doctest::Approx(expected).epsilon(1e-5));
  // Explicit c_t still scale the terms inside.
  auto awl_c = awl;
  awl_c["ttt_task_weights"] = weights({1, 1, 10, 50});
  CHECK(loss_with(awl_c) ==
        doctest::Approx(0.5 * (l[0] + l[1] + 10 * l[2] + 50 * l[3]) + 4.0 * std::log(2.0)).epsilon(1e-5));

  SUBCASE("σ is a parameter the policy always adapts; SGD moves it; begin_adaptation and reset restore 1") {
    auto narrow = awl;
    narrow["lr"] = Value(0.1);
    narrow["adapt"] = Value(std::vector<std::string>{"backbone"});
    auto s = make_setup(21, narrow);
    auto& root = s.model->root();
    REQUIRE(root.named_parameters(true).contains("method.ttt_sigma"));
    auto sigma = root.named_parameters(true)["method.ttt_sigma"];
    CHECK(sigma.sizes() == at::IntArrayRef{4});
    auto policy = s.method->adaptation_policy(*s.model);
    CHECK(policy.selects("method.ttt_sigma"));
    CHECK_FALSE(policy.selects("method.tbs.mask_token"));

    host::AdaptationSession session(*s.model, *s.method);
    session.begin();
    at::manual_seed(24);
    auto images = at::randn({2, 3, 32, 32});
    for (std::int64_t step = 1; step <= 3; ++step) CHECK(session.step(images, AdaptContext{step, 0}).updated);
    // d/dσ (0.5 a/σ² + log(1 + σ²)) = 1 − a at σ = 1 with a = λ·L1 ≪ 1: every σ_t falls.
    MESSAGE("sigma after 3 steps: " << sigma);
    CHECK((sigma.lt(1.0)).all().item<bool>());
    session.reset();
    CHECK(at::equal(sigma, at::ones({4})));
    {
      at::NoGradGuard no_grad;
      sigma.fill_(3.0);
    }
    s.method->begin_adaptation(*s.model);
    CHECK(at::equal(sigma, at::ones({4})));
  }
  SUBCASE("fixed weighting adds no parameter") {
    auto s = make_setup(21);
    CHECK_FALSE(s.model->root().named_parameters(true).contains("method.ttt_sigma"));
  }
}

TEST_CASE("s4t plugin: TBS decoder width and heads of its own") {
  SUBCASE("decoder_embed_dim = 16, decoder_heads = 2: decoder parameter shapes") {
    auto s = make_setup(31, {{"decoder_embed_dim", Value(std::int64_t{16})}, {"decoder_heads", Value(std::int64_t{2})}});
    auto params = s.model->root().named_parameters(true);
    auto shape = [&](const std::string& name) { return params[name].sizes().vec(); };
    const std::int64_t out = 8 * 8 * (3 + 1 + 3 + 1);  // patch² · Σ K_t
    CHECK(shape("method.tbs.blocks.0.attn.qkv.weight") == std::vector<std::int64_t>{96, 32});  // encoder: 32
    CHECK(shape("method.tbs.decoder_embed.weight") == std::vector<std::int64_t>{16, 32});
    CHECK(shape("method.tbs.mask_token") == std::vector<std::int64_t>{1, 1, 16});
    CHECK(shape("method.tbs.decoder_blocks.0.attn.qkv.weight") == std::vector<std::int64_t>{48, 16});
    CHECK(shape("method.tbs.decoder_blocks.0.mlp.fc1.weight") == std::vector<std::int64_t>{64, 16});
    CHECK(shape("method.tbs.decoder_norm.weight") == std::vector<std::int64_t>{16});
    CHECK(shape("method.tbs.decoder_pred.weight") == std::vector<std::int64_t>{out, 16});
    auto buffers = s.model->root().named_buffers(true);
    CHECK(buffers["method.tbs.decoder_pos_embed"].sizes() == at::IntArrayRef{1, 16, 16});
    at::manual_seed(32);
    auto loss = s.method->adaptation_loss(*s.model, at::randn({2, 3, 32, 32}), AdaptContext{});
    CHECK(std::isfinite(loss.item<double>()));
  }
  SUBCASE("0 means the encoder's width and heads: the same network, value for value") {
    auto a = make_setup(33);
    auto b = make_setup(33, {{"decoder_embed_dim", Value(std::int64_t{32})}, {"decoder_heads", Value(std::int64_t{4})}});
    auto sa = state_dict_of(a.model->root()), sb = state_dict_of(b.model->root());
    REQUIRE(sa.size() == sb.size());
    for (auto& [name, t] : sa) {
      INFO(name);
      REQUIRE(sb.count(name));
      CHECK(at::equal(t, sb.at(name)));
    }
    at::manual_seed(34);
    auto images = at::randn({2, 3, 32, 32});
    CHECK(adaptation_loss_value(a, images, 35, NormMode::TrainFrozen) ==
          adaptation_loss_value(b, images, 35, NormMode::TrainFrozen));
  }
  SUBCASE("sizes the decoder cannot have are refused before any model exists") {
    CHECK_THROWS_AS(make_s4t(tiny_options({{"decoder_embed_dim", Value(std::int64_t{18})}})), ConfigError);
    CHECK_THROWS_AS(make_s4t(tiny_options({{"decoder_embed_dim", Value(std::int64_t{16})},
                                           {"decoder_heads", Value(std::int64_t{3})}})),
                    ConfigError);
  }
}

TEST_CASE("s4t plugin: the released Taskonomy-source normals loss (1 - cosine along the width axis)") {
  SUBCASE("value against a hand computation") {
    at::manual_seed(41);
    auto p = at::randn({2, 3, 2, 3}, at::kDouble);
    auto g = at::randn({2, 3, 2, 3}, at::kDouble);
    auto pa = p.accessor<double, 4>(), ga = g.accessor<double, 4>();
    double sum = 0.0;
    int rows = 0;
    for (int n = 0; n < 2; ++n)
      for (int c = 0; c < 3; ++c)
        for (int h = 0; h < 2; ++h) {
          double dot = 0, pp = 0, gg = 0;
          for (int w = 0; w < 3; ++w) {
            dot += pa[n][c][h][w] * ga[n][c][h][w];
            pp += pa[n][c][h][w] * pa[n][c][h][w];
            gg += ga[n][c][h][w] * ga[n][c][h][w];
          }
          sum += 1.0 - dot / (std::sqrt(pp) + 1e-6) / (std::sqrt(gg) + 1e-6);
          ++rows;
        }
    CHECK(s4t_method::released_cosine_width_loss(p, g).item<double>() == doctest::Approx(sum / rows).epsilon(1e-12));
    // It compares whole rows, not pixels: a row scaled by 2 gives 0 (up to the 1e-6 in the norms), a
    // negated row 2, whatever the pixels' 3-vectors do.
    auto row = at::randn({1, 3, 2, 4}, at::kDouble);
    CHECK(s4t_method::released_cosine_width_loss(row.mul(2.0), row).item<double>() == doctest::Approx(0.0).epsilon(1e-5));
    auto rows_scaled = row.mul(at::tensor({1.0, -1.0}, at::kDouble).view({1, 1, 2, 1}));
    CHECK(s4t_method::released_cosine_width_loss(rows_scaled, row).item<double>() == doctest::Approx(1.0).epsilon(1e-5));
  }
  SUBCASE("normals_loss = released_cosine_width replaces the normals terms of the source objective") {
    const std::map<std::string, Value> main_only{{"lambda_tp", Value(0.0)}, {"lambda_tbs_source", Value(0.0)}};
    auto quirk = main_only;
    quirk["normals_loss"] = Value(std::string("released_cosine_width"));
    auto a = make_setup(42, main_only);
    auto b = make_setup(42, quirk);
    auto& tasks = a.model->tasks();
    auto batch = testkit::random_batch(tasks, 2, {32, 32}, 43);
    a.model->root().eval();
    b.model->root().eval();
    auto out_a = a.model->forward(batch.images);
    auto out_b = b.model->forward(batch.images);
    auto la = task_losses(tasks, out_a.predictions, batch);
    auto lb = task_losses(tasks, out_b.predictions, batch);
    const double spec = a.method->source_objective(*a.model, batch, out_a, la).item<double>();
    const double released = b.method->source_objective(*b.model, batch, out_b, lb).item<double>();
    CHECK(spec == doctest::Approx(weighted_sum(tasks, la).item<double>()));
    // Main loss with the normals term (weight 10) swapped for the quirk.
    const double quirk_normals =
        s4t_method::released_cosine_width_loss(out_b.predictions.at("normals"), batch.targets.at("normals")).item<double>();
    const double expected = weighted_sum(tasks, lb).item<double>() - 10.0 * lb.at("normals").item<double>() +
                            10.0 * quirk_normals;
    CHECK(released == doctest::Approx(expected).epsilon(1e-6));
    CHECK(std::abs(released - spec) > 1e-6);
  }
}
