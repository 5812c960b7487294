// TIPI: KL between clean and FGSM-perturbed predictions (+ entropy) on normalisation affine parameters,
// with a separate BatchNorm branch for the perturbed passes.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/utils.h>

#include <cmath>
#include <numeric>

#include "baseline_test_util.hpp"
#include "s4t/norm.hpp"
#include "s4t_doctest.hpp"

using namespace s4t;

namespace {
double mean_of(const std::vector<double>& v, size_t from, size_t to) {
  return std::accumulate(v.begin() + static_cast<long>(from), v.begin() + static_cast<long>(to), 0.0) /
         static_cast<double>(to - from);
}
}  // namespace

TEST_CASE("tipi: the loss is finite and falls on a fixed batch") {
  torch::manual_seed(0);
  auto t = test::make_tiny_model("tipi", {.method_options = {{"optimizer", Value(std::string("adam"))}}});
  auto batch = test::random_batch(t.tasks, 4, {32, 32}, 1);
  test::HostLikeAdapter adapter(t, 1e-2);
  auto losses = adapter.run(batch.images, 10);
  MESSAGE("tipi losses: first " << losses.front() << ", last " << losses.back());
  for (double l : losses) CHECK(std::isfinite(l));
  CHECK(mean_of(losses, 8, 10) < mean_of(losses, 0, 2));
}

TEST_CASE("tipi: only normalisation affine parameters change") {
  torch::manual_seed(0);
  auto t = test::make_tiny_model("tipi");
  auto& root = t.model->root();
  auto batch = test::random_batch(t.tasks, 4, {32, 32}, 2);
  test::HostLikeAdapter adapter(t, 1e-2);
  CHECK(adapter.policy.adapt_norm == NormMode::TrainUpdate);
  CHECK(adapter.policy.predict_norm == NormMode::Eval);
  const auto bn_affine = test::batchnorm_affine_names(root);
  CHECK(std::set<std::string>(adapter.selected.begin(), adapter.selected.end()) == bn_affine);
  auto before = test::clone_state(root);
  adapter.run(batch.images, 2);
  CHECK(test::changed(root, before) == bn_affine);
}

TEST_CASE("tipi: perturbed passes use their own BatchNorm branch (running statistics follow the clean pass only)") {
  torch::manual_seed(0);
  auto batch_images = test::random_batch(test::make_tiny_model("tipi").tasks, 4, {32, 32}, 3).images;
  for (std::string adv_norm : {"separate", "shared"}) {
    CAPTURE(adv_norm);
    auto t = test::make_tiny_model("tipi", {.method_options = {{"adv_norm", Value(adv_norm)}}});
    auto& root = t.model->root();
    const auto stats = test::running_stat_names(root);
    auto source = test::clone_state(root);
    // What one clean pass in the main branch does to the running statistics.
    root.train();
    apply_norm_mode(root, NormMode::TrainUpdate);
    {
      at::NoGradGuard no_grad;
      t.model->forward(batch_images);
    }
    auto clean_only = test::clone_state(root);
    load_state_dict(root, source);
    // TIPI's loss: clean pass + two perturbed passes.
    root.train();
    apply_norm_mode(root, NormMode::TrainUpdate);
    auto loss = t.method->adaptation_loss(*t.model, batch_images, {});
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
  torch::manual_seed(0);
  auto t = test::make_tiny_model("tipi", {.method_options = {{"epsilon", Value(0.0)}, {"entropy_weight", Value(0.0)}}});
  auto batch = test::random_batch(t.tasks, 4, {32, 32}, 4);
  t.model->root().train();
  apply_norm_mode(t.model->root(), NormMode::TrainUpdate);
  auto loss = t.method->adaptation_loss(*t.model, batch.images, {}).item<double>();
  CHECK(std::abs(loss) < 1e-5);
  // And with the default eps the perturbation shows up as a positive KL.
  auto t2 = test::make_tiny_model("tipi", {.method_options = {{"entropy_weight", Value(0.0)}, {"epsilon", Value(0.1)}}});
  t2.model->root().train();
  apply_norm_mode(t2.model->root(), NormMode::TrainUpdate);
  CHECK(t2.method->adaptation_loss(*t2.model, batch.images, {}).item<double>() > 1e-6);
  // TIPI's CIFAR variant (d0 = 0): the clean pass is the first perturbed pass; the loss stays differentiable.
  auto t3 = test::make_tiny_model("tipi", {.method_options = {{"random_init", Value(false)}}});
  t3.model->root().train();
  apply_norm_mode(t3.model->root(), NormMode::TrainUpdate);
  auto loss3 = t3.method->adaptation_loss(*t3.model, batch.images, {});
  CHECK(std::isfinite(loss3.item<double>()));
  loss3.backward();
  CHECK(t3.model->root().named_parameters(true)["backbone.bn1.weight"].grad().defined());
}
