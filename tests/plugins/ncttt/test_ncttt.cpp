// NC-TTT: noise-contrastive projector + discriminator on a backbone stage.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>

#include <cmath>

#include "method_runs.hpp"
#include "parameters.hpp"
#include "s4t/losses.hpp"

using namespace s4t;

namespace {
testkit::Recipe ncttt(std::map<std::string, Value> options) {
  testkit::Recipe r;
  r.method = "ncttt";
  r.method_options = std::move(options);
  return r;
}

// The noise-contrastive part of the source objective (total minus the weighted main losses).
at::Tensor aux_loss(testkit::TinyExperiment& x, const Batch& batch) {
  std::map<std::string, at::Tensor> main;
  auto total = x.source_loss(batch, &main);
  return total.sub(weighted_sum(x.tasks(), main));
}
}  // namespace

TEST_CASE("ncttt: module shape and the source-time loss trains the projector and discriminator") {
  testkit::TinyExperiment x(ncttt({{"embed_dim", Value(std::int64_t{32})}}));
  auto& root = x.root();
  CHECK(x.method_traits().source_objective);
  CHECK_FALSE(x.method_traits().post_training);
  auto params = root.named_parameters(true);
  CHECK(params["method.projector.weight"].sizes().vec() == std::vector<std::int64_t>{32, 8, 1, 1});  // C2 = 8 channels
  CHECK(params["method.disc_hidden.weight"].sizes().vec() == std::vector<std::int64_t>{4, 32, 1, 1});
  CHECK(params["method.disc_out.weight"].sizes().vec() == std::vector<std::int64_t>{1, 4, 1, 1});

  auto batch = x.random_batch(4, 1);
  auto loss = aux_loss(x, batch);
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
  auto before = testkit::clone_state(root);
  double first = 0.0, last = 0.0;
  for (int i = 0; i < 15; ++i) {
    torch::manual_seed(7);  // the same noise every time
    auto l = aux_loss(x, batch);
    opt.zero_grad();
    l.backward();
    opt.step();
    (i == 0 ? first : last) = l.item<double>();
  }
  MESSAGE("ncttt source NC loss: first " << first << ", last " << last);
  CHECK(last < first);
  CHECK(test::with_prefix(testkit::changed(root, before), "method.") ==
        test::with_prefix(test::parameter_names(root), "method."));
}

TEST_CASE("ncttt: the test loss falls while only conv1..layer L adapt with BatchNorm in train mode") {
  for (std::int64_t layer : {1, 2}) {
    CAPTURE(layer);
    testkit::TinyExperiment x(ncttt({{"embed_dim", Value(std::int64_t{32})}, {"layer", Value(layer)}, {"lr", Value(1e-2)}}));
    auto& root = x.root();
    auto batch = x.random_batch(4, 2);
    auto& session = x.session();
    CHECK(session.policy().adapt_norm == NormMode::TrainUpdate);
    CHECK(session.policy().predict_norm == NormMode::Eval);
    std::set<std::string> expected;
    for (auto& name : test::parameter_names(root)) {
      bool in = name.rfind("backbone.conv1.", 0) == 0 || name.rfind("backbone.bn1.", 0) == 0 ||
                name.rfind("backbone.layer1.", 0) == 0 || (layer == 2 && name.rfind("backbone.layer2.", 0) == 0);
      if (in) expected.insert(name);
    }
    CHECK(std::set<std::string>(session.adapted_names().begin(), session.adapted_names().end()) == expected);

    auto before = testkit::clone_state(root);
    auto losses = test::steps(session, batch.images, 8);
    MESSAGE("ncttt losses (layer " << layer << "): first " << losses.front() << ", last " << losses.back());
    for (double l : losses) CHECK(std::isfinite(l));
    CHECK(losses.back() < losses.front());
    CHECK(testkit::changed(root, before) == expected);  // projector/discriminator, later stages, heads frozen
    // Batch statistics with running-statistics updates in the adapted encoder.
    CHECK_FALSE(at::equal(root.named_buffers(true)["backbone.bn1.running_mean"], before.at("backbone.bn1.running_mean")));
  }
}

TEST_CASE("ncttt: std1 = 0 (clean vs noised) and the source-statistics discriminator option") {
  testkit::TinyExperiment x(ncttt({{"embed_dim", Value(std::int64_t{16})},
                                   {"std1", Value(0.0)},
                                   {"discriminator_bn", Value(std::string("source"))},
                                   {"lr", Value(1e-3)}}));
  auto batch = x.random_batch(4, 3);
  CHECK(std::isfinite(aux_loss(x, batch).item<double>()));
  auto& root = x.root();
  auto disc_stats = root.named_buffers(true)["method.disc_bn.running_mean"].clone();
  auto losses = test::steps(x.session(), batch.images, 2);
  CHECK(std::isfinite(losses.back()));
  CHECK(at::equal(root.named_buffers(true)["method.disc_bn.running_mean"], disc_stats));  // eval-mode discriminator BN
}
