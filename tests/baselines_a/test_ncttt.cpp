// NC-TTT: noise-contrastive projector + discriminator on a backbone stage.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>

#include <cmath>

#include "baseline_test_util.hpp"
#include "s4t/losses.hpp"
#include "s4t/norm.hpp"
#include "s4t_doctest.hpp"

using namespace s4t;

namespace {
// The noise-contrastive part of the source objective (total minus the weighted main losses).
at::Tensor aux_loss(test::TinyModel& t, const Batch& batch) {
  auto out = t.model->forward(batch.images);
  auto main = task_losses(t.tasks, out.predictions, batch);
  return t.method->source_objective(*t.model, batch, out, main).sub(weighted_sum(t.tasks, main));
}
}  // namespace

TEST_CASE("ncttt: module shape and the source-time loss trains the projector and discriminator") {
  torch::manual_seed(0);
  auto t = test::make_tiny_model("ncttt", {.method_options = {{"embed_dim", Value(std::int64_t{32})}}});
  auto& root = t.model->root();
  CHECK(t.method->has_source_objective());
  CHECK_FALSE(t.method->has_post_training());
  auto params = root.named_parameters(true);
  CHECK(params["method.projector.weight"].sizes().vec() == std::vector<std::int64_t>{32, 8, 1, 1});  // C2 = 8 channels
  CHECK(params["method.disc_hidden.weight"].sizes().vec() == std::vector<std::int64_t>{4, 32, 1, 1});
  CHECK(params["method.disc_out.weight"].sizes().vec() == std::vector<std::int64_t>{1, 4, 1, 1});

  auto batch = test::random_batch(t.tasks, 4, {32, 32}, 1);
  root.train();
  auto loss = aux_loss(t, batch);
  CHECK(std::isfinite(loss.item<double>()));
  CHECK(loss.item<double>() > 0.0);
  loss.backward();
  for (auto& p : params)
    if (p.key().rfind("method.", 0) == 0) {
      CAPTURE(p.key());
      REQUIRE(p.value().grad().defined());
      CHECK(p.value().grad().abs().sum().item<double>() > 0.0);
    }
  // The gradient reaches the encoder up to the stage (joint training), not the heads.
  CHECK(params["backbone.layer1.0.conv1.weight"].grad().abs().sum().item<double>() > 0.0);
  auto head_grad = params["heads.semseg.weight"].grad();  // main terms cancel in total - weighted_sum
  CHECK((!head_grad.defined() || head_grad.abs().sum().item<double>() == 0.0));

  // Training only the module on a fixed noise draw lowers the noise-contrastive loss.
  std::vector<at::Tensor> module_params;
  for (auto& p : params) {
    p.value().mutable_grad() = at::Tensor();
    if (p.key().rfind("method.", 0) == 0) module_params.push_back(p.value());
  }
  torch::optim::Adam opt(module_params, torch::optim::AdamOptions(1e-2));
  auto before = test::clone_state(root);
  double first = 0.0, last = 0.0;
  for (int i = 0; i < 15; ++i) {
    torch::manual_seed(7);  // the same noise every time
    auto l = aux_loss(t, batch);
    opt.zero_grad();
    l.backward();
    opt.step();
    (i == 0 ? first : last) = l.item<double>();
  }
  MESSAGE("ncttt source NC loss: first " << first << ", last " << last);
  CHECK(last < first);
  CHECK(test::with_prefix(test::changed(root, before), "method.") == test::with_prefix(test::parameter_names(root), "method."));
}

TEST_CASE("ncttt: the test loss falls while only conv1..layer L adapt with BatchNorm in train mode") {
  for (std::int64_t layer : {1, 2}) {
    CAPTURE(layer);
    torch::manual_seed(0);
    auto t = test::make_tiny_model("ncttt", {.method_options = {{"embed_dim", Value(std::int64_t{32})},
                                                                {"layer", Value(layer)}}});
    auto& root = t.model->root();
    auto batch = test::random_batch(t.tasks, 4, {32, 32}, 2);
    test::HostLikeAdapter adapter(t, 1e-2);
    CHECK(adapter.policy.adapt_norm == NormMode::TrainUpdate);
    CHECK(adapter.policy.predict_norm == NormMode::Eval);
    std::set<std::string> expected;
    for (auto& name : test::parameter_names(root)) {
      bool in = name.rfind("backbone.conv1.", 0) == 0 || name.rfind("backbone.bn1.", 0) == 0 ||
                name.rfind("backbone.layer1.", 0) == 0 || (layer == 2 && name.rfind("backbone.layer2.", 0) == 0);
      if (in) expected.insert(name);
    }
    CHECK(std::set<std::string>(adapter.selected.begin(), adapter.selected.end()) == expected);

    auto before = test::clone_state(root);
    auto losses = adapter.run(batch.images, 8);
    MESSAGE("ncttt losses (layer " << layer << "): first " << losses.front() << ", last " << losses.back());
    for (double l : losses) CHECK(std::isfinite(l));
    CHECK(losses.back() < losses.front());
    CHECK(test::changed(root, before) == expected);  // projector/discriminator, later stages, heads frozen
    // Batch statistics with running-statistics updates in the adapted encoder.
    CHECK_FALSE(at::equal(root.named_buffers(true)["backbone.bn1.running_mean"], before.at("backbone.bn1.running_mean")));
  }
}

TEST_CASE("ncttt: std1 = 0 (clean vs noised) and the source-statistics discriminator option") {
  torch::manual_seed(0);
  auto t = test::make_tiny_model("ncttt", {.method_options = {{"embed_dim", Value(std::int64_t{16})},
                                                              {"std1", Value(0.0)},
                                                              {"discriminator_bn", Value(std::string("source"))}}});
  auto batch = test::random_batch(t.tasks, 4, {32, 32}, 3);
  t.model->root().train();
  CHECK(std::isfinite(aux_loss(t, batch).item<double>()));
  auto& root = t.model->root();
  auto disc_stats = root.named_buffers(true)["method.disc_bn.running_mean"].clone();
  test::HostLikeAdapter adapter(t, 1e-3);
  auto losses = adapter.run(batch.images, 2);
  CHECK(std::isfinite(losses.back()));
  CHECK(at::equal(root.named_buffers(true)["method.disc_bn.running_mean"], disc_stats));  // eval-mode discriminator BN
}
