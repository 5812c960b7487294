// Where the s4t test-time loss sends gradient on a fake model (backbone, latent projection, TBS; not
// the heads), which parameters the policy adapts, and a falling loss over ten steps of the host's session.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cmath>

#include "fake_models.hpp"

using namespace s4t;
using namespace s4t::test;

TEST_CASE("s4t plugin: test-time gradients (backbone, latents, TBS, not the heads) and a falling loss over 10 SGD steps") {
  SUBCASE("test-time gradients reach backbone, latent projection and TBS, not the heads") {
    auto s = make_setup(2);
    auto& root = s.model->root();
    auto policy = s.method->adaptation_policy(*s.model);
    CHECK(policy.selects("backbone.conv1.weight"));
    CHECK(policy.selects("method.tbs.blocks.0.attn.qkv.weight"));
    CHECK(policy.selects("method.ts_comp.weight"));
    CHECK_FALSE(policy.selects("heads.semseg.weight"));
    CHECK_FALSE(policy.selects("backbonex.weight"));
    CHECK(policy.adapt_norm == NormMode::TrainUpdate);
    CHECK(policy.predict_norm == NormMode::Eval);
    CHECK(policy.optimizer.name == "sgd");
    CHECK(policy.optimizer.lr == doctest::Approx(2e-5));
    CHECK(policy.optimizer.weight_decay == doctest::Approx(1e-6));
    CHECK(policy.optimizer.momentum == 0.0);
    auto narrow = make_s4t(tiny_options({{"adapt", Value(std::vector<std::string>{"method.tbs", "backbone.conv2"})}}));
    auto narrow_policy = narrow->adaptation_policy(*s.model);
    CHECK(narrow_policy.selects("method.tbs.mask_token"));
    CHECK_FALSE(narrow_policy.selects("method.ts_comp.weight"));
    CHECK_FALSE(narrow_policy.selects("backbone.conv1.weight"));

    // Every parameter requires grad here, so the test sees where gradient actually flows.
    root.train();
    s.model->norm_layers().apply(policy.adapt_norm);
    at::manual_seed(11);
    auto loss = s.method->adaptation_loss(*s.model, at::randn({2, 3, 32, 32}), AdaptContext{});
    CHECK(loss.dim() == 0);
    loss.backward();
    for (auto name : {"backbone.conv1.weight", "backbone.bn1.weight", "backbone.conv2.weight", "method.ts_comp.weight",
                      "method.ts_comp.bias", "method.tbs.patch_embed.proj.weight", "method.tbs.blocks.0.attn.qkv.weight",
                      "method.tbs.blocks.1.mlp.fc2.weight", "method.tbs.norm.weight", "method.tbs.decoder_embed.weight",
                      "method.tbs.mask_token", "method.tbs.decoder_blocks.0.attn.proj.weight",
                      "method.tbs.decoder_pred.weight"}) {
      INFO(name);
      CHECK(has_gradient(root, name));
    }
    for (auto& p : root.named_parameters(true)) {
      const bool head = p.key().rfind("heads.", 0) == 0 || p.key().rfind("method.aux_heads.", 0) == 0;
      if (!head) continue;
      INFO(p.key());
      CHECK_FALSE(p.value().grad().defined());
    }
  }
  SUBCASE("the test-time loss falls over 10 SGD steps on a fixed batch") {
    auto s = make_setup(3, {{"lr", Value(0.1)}});
    // The host's session (created first: it records the layers' momentum as built).
    host::AdaptationSession session(*s.model, *s.method);
    session.begin();
    CHECK(session.policy().optimizer.name == "sgd");
    at::manual_seed(12);
    auto images = at::randn({4, 3, 32, 32});
    // Measured with the same mask (seed 100) before and after; training masks are fresh.
    const double before = adaptation_loss_value(s, images, 100, NormMode::TrainFrozen);
    std::vector<double> trace;
    at::manual_seed(13);
    for (std::int64_t step = 1; step <= 10; ++step) {
      auto outcome = session.step(images, AdaptContext{step, 0});
      CHECK(outcome.updated);
      trace.push_back(outcome.loss);
    }
    const double after = adaptation_loss_value(s, images, 100, NormMode::TrainFrozen);
    std::string text;
    for (double v : trace) text += std::to_string(v) + " ";
    MESSAGE("test-time loss, fixed mask: " << before << " -> " << after << "; per step: " << text);
    CHECK(after < 0.8 * before);
    CHECK(trace.back() < trace.front());
  }
}
