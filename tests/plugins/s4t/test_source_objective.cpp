// The s4t source objective on a fake model: the main loss plus the task-prediction and TBS terms, with
// gradients into the auxiliary heads, the latent projection and the TBS; automatic task weighting.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cmath>

#include "fake_models.hpp"
#include "s4t/losses.hpp"

using namespace s4t;
using namespace s4t::test;

TEST_CASE("s4t plugin: the source objective trains aux heads, latent projection and TBS") {
  auto s = make_setup(4);
  auto& root = s.model->root();
  auto& tasks = s.model->tasks();
  root.train();
  auto batch = testkit::random_batch(tasks, 2, {32, 32}, 7);
  auto output = s.model->forward(batch.images);
  auto main_losses = task_losses(tasks, output.predictions, batch);
  auto total = s.method->source_objective(*s.model, batch, output, main_losses);
  CHECK(total.dim() == 0);
  CHECK(total.item<double>() > weighted_sum(tasks, main_losses).item<double>());
  total.backward();
  for (auto name : {"heads.semseg.weight", "method.aux_heads.semseg.weight", "method.aux_heads.depth.weight",
                    "method.aux_heads.normals.weight", "method.aux_heads.edge.weight", "method.ts_comp.weight",
                    "method.tbs.patch_embed.proj.weight", "method.tbs.mask_token", "method.tbs.decoder_pred.weight",
                    "backbone.conv1.weight"}) {
    INFO(name);
    CHECK(has_gradient(root, name));
  }

  SUBCASE("with both lambdas 0 it is the main loss") {
    auto s0 = make_setup(4, {{"lambda_tp", Value(0.0)}, {"lambda_tbs_source", Value(0.0)}});
    auto out0 = s0.model->forward(batch.images);
    auto ml = task_losses(tasks, out0.predictions, batch);
    CHECK(s0.method->source_objective(*s0.model, batch, out0, ml).item<double>() ==
          doctest::Approx(weighted_sum(tasks, ml).item<double>()));
  }
  SUBCASE("automatic weighting: sigma = 1 gives 0.5 sum_t L_t + T log 2, and sigma gets gradient") {
    auto sa = make_setup(4, {{"auto_weight", Value(true)}, {"lambda_tp", Value(0.0)}, {"lambda_tbs_source", Value(0.0)}});
    auto outa = sa.model->forward(batch.images);
    auto ml = task_losses(tasks, outa.predictions, batch);
    double sum = 0.0;
    for (auto& [k, v] : ml) sum += v.item<double>();
    auto ta = sa.method->source_objective(*sa.model, batch, outa, ml);
    CHECK(ta.item<double>() == doctest::Approx(0.5 * sum + 4.0 * std::log(2.0)));
    ta.backward();
    CHECK(has_gradient(sa.model->root(), "method.auto_weight_sigma"));
  }
  SUBCASE("an all-ignore semseg batch stays finite") {
    auto b = batch;
    b.targets["semseg"] = at::full_like(b.targets["semseg"], 255);
    auto out = s.model->forward(b.images);
    auto ml = task_losses(tasks, out.predictions, b);
    CHECK(std::isfinite(s.method->source_objective(*s.model, b, out, ml).item<double>()));
  }
}
