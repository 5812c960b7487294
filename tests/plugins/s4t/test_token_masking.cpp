// The TBS's token masking (floor(N(1-r)) visible tokens, per sample, fresh on every call, seeded by
// torch), its sin-cos position embedding, and the S4T module's shapes and names on a fake model.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cmath>

#include "fake_models.hpp"
#include "s4t/error.hpp"
#include "token_mask.hpp"  // header-only, from plugins/s4t

using namespace s4t;
using namespace s4t::test;

TEST_CASE("s4t plugin: token masking (floor(N(1-r)) tokens, per sample, fresh each call), shapes and names") {
  SUBCASE("token masking keeps floor(N(1-r)) tokens, per sample, fresh on every call") {
    CHECK(tbs::visible_token_count(256, 0.8) == 51);
    CHECK(tbs::visible_token_count(16, 0.75) == 4);
    CHECK(tbs::visible_token_count(256, 0.0) == 256);
    CHECK(tbs::visible_token_count(256, 0.9) == 25);

    at::manual_seed(3);
    const std::int64_t b = 6, n = 64, keep = tbs::visible_token_count(n, 0.8);
    auto m1 = tbs::random_token_mask(b, n, keep, at::kCPU);
    auto m2 = tbs::random_token_mask(b, n, keep, at::kCPU);
    CHECK(m1.keep.sizes().vec() == std::vector<std::int64_t>{b, keep});
    CHECK(m1.restore.sizes().vec() == std::vector<std::int64_t>{b, n});
    for (std::int64_t i = 0; i < b; ++i) {
      auto ids = std::get<0>(at::sort(m1.keep[i]));
      CHECK(std::get<0>(at::unique_consecutive(ids)).numel() == keep);  // distinct tokens
      // restore is the inverse permutation: the kept tokens land at ranks 0..keep-1.
      auto ranks = m1.restore[i].index_select(0, m1.keep[i]);
      CHECK(at::equal(std::get<0>(at::sort(ranks)), at::arange(keep, at::kLong)));
      CHECK(at::equal(std::get<0>(at::sort(m1.restore[i])), at::arange(n, at::kLong)));
    }
    CHECK_FALSE(at::equal(m1.keep[0], m1.keep[1]));  // differs between samples
    CHECK_FALSE(at::equal(m1.keep, m2.keep));        // and between calls
    at::manual_seed(3);
    auto again = tbs::random_token_mask(b, n, keep, at::kCPU);
    CHECK(at::equal(again.keep, m1.keep));  // the torch seed controls it

    // Rank r of 2 with batch 3 (its share of the global batch of 6, sample 2j + r): the rows of the
    // one-process mask, from the same RNG state.
    for (std::int64_t r = 0; r < 2; ++r) {
      at::manual_seed(3);
      auto share = tbs::random_token_mask(b / 2, n, keep, at::kCPU, r, 2);
      CHECK(at::equal(share.keep, m1.keep.index_select(0, at::arange(r, b, 2, at::kLong))));
      CHECK(at::equal(share.restore, m1.restore.index_select(0, at::arange(r, b, 2, at::kLong))));
    }

    // 2-D sin-cos embedding: first half encodes the column, second half the row.
    auto pe = tbs::sincos_position_embedding(8, 4);  // dim 8, 4x4 grid
    CHECK(pe.sizes().vec() == std::vector<std::int64_t>{1, 16, 8});
    auto tok = pe[0][1 * 4 + 2];  // row 1, column 2; ω = (1, 1/100)
    CHECK(tok[0].item<double>() == doctest::Approx(std::sin(2.0)));
    CHECK(tok[1].item<double>() == doctest::Approx(std::sin(0.02)));
    CHECK(tok[2].item<double>() == doctest::Approx(std::cos(2.0)));
    CHECK(tok[4].item<double>() == doctest::Approx(std::sin(1.0)));
    CHECK(tok[6].item<double>() == doctest::Approx(std::cos(1.0)));
  }
  SUBCASE("shapes, names and a fresh TBS mask in every forward pass (also in eval mode)") {
    auto s = make_setup(1);
    auto& root = s.model->root();
    auto names = root.named_parameters(true);
    CHECK(names.contains("method.ts_comp.weight"));
    CHECK(names["method.ts_comp.weight"].sizes().vec() == std::vector<std::int64_t>{4 * 16, 24, 1, 1});
    CHECK(names.contains("method.aux_heads.normals.weight"));
    CHECK(names["method.tbs.decoder_pred.weight"].size(0) == 8 * 8 * (3 + 1 + 3 + 1));
    CHECK(names["method.tbs.patch_embed.proj.weight"].sizes().vec() == std::vector<std::int64_t>{32, 64, 8, 8});

    at::manual_seed(10);
    auto images = at::randn({2, 3, 32, 32});
    root.eval();
    s.model->norm_layers().apply(NormMode::Eval);
    {
      at::NoGradGuard no_grad;
      auto latents = s.method->task_latents(*s.model, images);
      REQUIRE(latents.size() == 4);
      for (auto& [task, z] : latents) CHECK(z.sizes().vec() == std::vector<std::int64_t>{2, 16, 8, 8});
    }
    const double a = adaptation_loss_value(s, images, 5, NormMode::Eval);
    const double b = adaptation_loss_value(s, images, 6, NormMode::Eval);
    const double a2 = adaptation_loss_value(s, images, 5, NormMode::Eval);
    CHECK(std::isfinite(a));
    CHECK(a > 0.0);
    CHECK(a != b);   // another mask
    CHECK(a == a2);  // same seed, same mask, same value

    // Per-sample masks: a batch [x, x'] with x' = x must not reuse sample 0's mask for sample 1. The
    // first row of the noise of a 2-sample batch equals the noise of a 1-sample batch with the same seed.
    auto x = images.narrow(0, 0, 1);
    const double one = adaptation_loss_value(s, x, 9, NormMode::Eval);
    const double twice = adaptation_loss_value(s, at::cat({x, x}, 0), 9, NormMode::Eval);
    CHECK(one != doctest::Approx(twice).epsilon(1e-9));

    // The TBS needs visible tokens at least: mask_ratio leaving none is refused.
    CHECK_THROWS_AS(make_s4t(tiny_options({{"mask_ratio", Value(0.99)}})), ConfigError);
  }
}
