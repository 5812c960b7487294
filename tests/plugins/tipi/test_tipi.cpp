// TIPI: KL between clean and FGSM-perturbed predictions (+ entropy) on normalisation affine parameters,
// with a separate BatchNorm branch for the perturbed passes.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/utils.h>

#include <cmath>
#include <numeric>

#include "method_runs.hpp"
#include "parameters.hpp"

using namespace s4t;

namespace {
testkit::Recipe tipi(std::map<std::string, Value> options = {}) {
  testkit::Recipe r;
  r.method = "tipi";
  r.method_options = std::move(options);
  return r;
}

double mean_of(const std::vector<double>& v, size_t from, size_t to) {
  return std::accumulate(v.begin() + static_cast<long>(from), v.begin() + static_cast<long>(to), 0.0) /
         static_cast<double>(to - from);
}
}  // namespace

TEST_CASE("tipi: the loss is finite and falls on a fixed batch") {
  testkit::TinyExperiment x(tipi({{"optimizer", Value(std::string("adam"))}, {"lr", Value(1e-2)}}));
  auto batch = x.random_batch(4, 1);
  auto losses = test::steps(x.session(), batch.images, 10);
  MESSAGE("tipi losses: first " << losses.front() << ", last " << losses.back());
  for (double l : losses) CHECK(std::isfinite(l));
  CHECK(mean_of(losses, 8, 10) < mean_of(losses, 0, 2));
}

TEST_CASE("tipi: only normalisation affine parameters change") {
  testkit::TinyExperiment x(tipi({{"lr", Value(1e-2)}}));
  auto& root = x.root();
  auto batch = x.random_batch(4, 2);
  auto& session = x.session();
  CHECK(session.policy().adapt_norm == NormMode::TrainUpdate);
  CHECK(session.policy().predict_norm == NormMode::Eval);
  const auto bn_affine = test::batchnorm_affine_names(root);
  CHECK(std::set<std::string>(session.adapted_names().begin(), session.adapted_names().end()) == bn_affine);
  auto before = testkit::clone_state(root);
  test::steps(session, batch.images, 2);
  CHECK(testkit::changed(root, before) == bn_affine);
}

TEST_CASE("tipi: perturbed passes use their own BatchNorm branch (running statistics follow the clean pass only)") {
  auto batch_images = testkit::random_batch(testkit::standard_tasks(), 4, {32, 32}, 3).images;
  for (std::string adv_norm : {"separate", "shared"}) {
    CAPTURE(adv_norm);
    testkit::TinyExperiment x(tipi({{"adv_norm", Value(adv_norm)}}));
    auto& root = x.root();
    const auto stats = test::running_stat_names(root);
    auto source = testkit::clone_state(root);
    // What one clean pass in the main branch does to the running statistics.
    root.train();
    x.norm_layers().apply(NormMode::TrainUpdate);
    {
      at::NoGradGuard no_grad;
      x.model().forward(batch_images);
    }
    auto clean_only = testkit::clone_state(root);
    load_state_dict(root, source);
    // TIPI's loss: clean pass + two perturbed passes.
    auto loss = test::loss_in_mode(x, batch_images, NormMode::TrainUpdate);
    CHECK(std::isfinite(loss.item<double>()));
    bool equal_to_clean = true, moved = false;
    for (auto& name : stats) {
      auto live = root.named_buffers(true)[name];
      equal_to_clean &= at::allclose(live, clean_only.at(name), 1e-6, 1e-7);
      moved |= !at::equal(live, source.at(name));
    }
    CHECK(moved);
    CHECK(equal_to_clean == (adv_norm == "separate"));
  }
}

TEST_CASE("tipi: with eps = 0 and no entropy term the loss vanishes and d0 = 0 works") {
  testkit::TinyExperiment x(tipi({{"epsilon", Value(0.0)}, {"entropy_weight", Value(0.0)}}));
  auto batch = x.random_batch(4, 4);
  auto loss = test::loss_in_mode(x, batch.images, NormMode::TrainUpdate).item<double>();
  CHECK(std::abs(loss) < 1e-5);
  // And with the default eps the perturbation shows up as a positive KL.
  testkit::TinyExperiment x2(tipi({{"entropy_weight", Value(0.0)}, {"epsilon", Value(0.1)}}));
  CHECK(test::loss_in_mode(x2, batch.images, NormMode::TrainUpdate).item<double>() > 1e-6);
  // TIPI's CIFAR variant (d0 = 0): the clean pass is the first perturbed pass; the loss stays differentiable.
  testkit::TinyExperiment x3(tipi({{"random_init", Value(false)}}));
  auto loss3 = test::loss_in_mode(x3, batch.images, NormMode::TrainUpdate);
  CHECK(std::isfinite(loss3.item<double>()));
  loss3.backward();
  CHECK(x3.root().named_parameters(true)["backbone.bn1.weight"].grad().defined());
}
