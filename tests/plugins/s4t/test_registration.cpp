// The s4t method plugin through its registered factory: registration, option defaults, factory checks
// and the module's parameter count in the paper's ResNet-50 configuration.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cmath>

#include "fake_models.hpp"
#include "s4t/error.hpp"

using namespace s4t;
using namespace s4t::test;

TEST_CASE("s4t plugin: registration, defaults, factory checks and the paper's parameter count") {
  SUBCASE("registration, defaults and the model-free factory") {
    const auto info = plugins().info(ComponentKind::Method, "s4t");
    CHECK(info.version == "1.0.0");
    CHECK(info.doc.find("5,682,508") != std::string::npos);
    CHECK(plugins().method_traits("s4t").source_objective);
    CHECK_FALSE(plugins().method_traits("s4t").post_training);
    auto method = make_s4t();
    CHECK(method->module() == nullptr);  // built in attach(), not in the factory
    auto o = plugins().options(ComponentKind::Method, "s4t");
    CHECK(o.get_int("tbs_input_res") == 256);
    CHECK(o.get_int("patch_size") == 16);
    CHECK(o.get_float("mask_ratio") == doctest::Approx(0.8));
    CHECK(o.get_float("lambda_tbs") == doctest::Approx(0.01));
    CHECK(o.get_float("lambda_tp") == doctest::Approx(1.0));
    CHECK(o.get_float("lambda_tbs_source") == doctest::Approx(1.0));
    CHECK(o.get_string("optimizer") == "sgd");
    CHECK(o.get_float("lr") == doctest::Approx(2e-5));
    CHECK(o.get_float("weight_decay") == doctest::Approx(1e-6));
    CHECK(o.get_float("momentum") == 0.0);
    CHECK(o.get_string_list("adapt") == std::vector<std::string>{"backbone", "method"});
    // Inconsistent sizes are configuration errors at build time.
    CHECK_THROWS_AS(make_s4t({{"tbs_input_res", Value(std::int64_t{30})}, {"patch_size", Value(std::int64_t{8})}}),
                    ConfigError);
    CHECK_THROWS_AS(make_s4t({{"embed_dim", Value(std::int64_t{36})}, {"heads", Value(std::int64_t{8})}}), ConfigError);
  }
  SUBCASE("parameter count of the paper's ResNet-50 configuration") {
    at::manual_seed(0);
    InfoOnlyModel model(testkit::standard_tasks(7), 3840);  // K = 7 + 1 + 3 + 1
    auto method = make_s4t();
    method->attach(model);
    auto& m = *method->module();
    const auto total = count_with_prefix(m, "");
    const auto tbs = count_with_prefix(m, "tbs.");
    MESSAGE("s4t module parameters: total " << total << ", ts_comp " << count_with_prefix(m, "ts_comp.")
                                            << ", aux heads " << count_with_prefix(m, "aux_heads.") << ", TBS " << tbs);
    CHECK(count_with_prefix(m, "ts_comp.") == 983296);
    CHECK(count_with_prefix(m, "aux_heads.") == 780);
    CHECK(count_with_prefix(m, "tbs.patch_embed.") == 4194368);
    CHECK(count_with_prefix(m, "tbs.blocks.") == 199936);
    CHECK(count_with_prefix(m, "tbs.decoder_embed.") == 4160);
    CHECK(count_with_prefix(m, "tbs.mask_token") == 64);
    CHECK(count_with_prefix(m, "tbs.decoder_blocks.") == 99968);
    CHECK(count_with_prefix(m, "tbs.decoder_pred.") == 199680);
    CHECK(count_with_prefix(m, "tbs.norm.") + count_with_prefix(m, "tbs.decoder_norm.") == 256);
    CHECK(tbs == 4698432);
    CHECK(total == 5682508);  // 29,236,632 - 23,554,124
    // Position embeddings are fixed buffers (saved, not trained).
    auto buffers = m.named_buffers(true);
    REQUIRE(buffers.contains("tbs.pos_embed"));
    CHECK(buffers["tbs.pos_embed"].sizes().vec() == std::vector<std::int64_t>{1, 256, 64});
    CHECK(buffers["tbs.decoder_pos_embed"].sizes().vec() == std::vector<std::int64_t>{1, 256, 64});
    // Init: LayerNorm (1, 0), zero Linear biases, mask token ~ N(0, 0.02²).
    auto params = m.named_parameters(true);
    CHECK(at::equal(params["tbs.norm.weight"], at::ones({64})));
    CHECK(params["tbs.blocks.0.attn.qkv.bias"].abs().sum().item<double>() == 0.0);
    CHECK(params["tbs.mask_token"].std().item<double>() == doctest::Approx(0.02).epsilon(0.5));
    // xavier-uniform on the patch embedding viewed as 64 x (256·16·16): bound sqrt(6 / (64 + 65536)).
    const double bound = std::sqrt(6.0 / (64.0 + 65536.0));
    CHECK(params["tbs.patch_embed.proj.weight"].abs().max().item<double>() <= bound);
    CHECK(params["tbs.patch_embed.proj.weight"].abs().max().item<double>() > 0.9 * bound);

    // Automatic weighting adds one σ per task.
    auto weighted = make_s4t({{"auto_weight", Value(true)}});
    weighted->attach(model);
    CHECK(count_with_prefix(*weighted->module(), "") == 5682508 + 4);
    CHECK(at::equal(weighted->module()->named_parameters(true)["auto_weight_sigma"], at::ones({4})));
  }
}
