// ActMAD: location-aware BatchNorm-output statistics, collected after source training, aligned at test time.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/utils.h>

#include <cmath>

#include "baseline_test_util.hpp"
#include "s4t/error.hpp"
#include "s4t/norm.hpp"
#include "s4t_doctest.hpp"

using namespace s4t;

namespace {
// Source statistics from three batches of four images (+ a one-image batch that must be skipped).
std::vector<Batch> source_batches(const std::vector<TaskSpec>& tasks) {
  return {test::random_batch(tasks, 4, {32, 32}, 11), test::random_batch(tasks, 4, {32, 32}, 12),
          test::random_batch(tasks, 1, {32, 32}, 13), test::random_batch(tasks, 4, {32, 32}, 14)};
}
void collect(test::TinyModel& t) {
  test::VectorBatchStream stream(source_batches(t.tasks));
  t.method->after_source_training(*t.model, stream);
}
// A shifted target batch (different intensity statistics than the N(0, 1) source images).
at::Tensor target_images(const std::vector<TaskSpec>& tasks, std::array<std::int64_t, 2> size = {32, 32}) {
  return test::random_batch(tasks, 4, size, 21).images.mul(1.5).add(0.5);
}
}  // namespace

TEST_CASE("actmad: one C x H x W mean/variance buffer pair per BatchNorm output collected in eval mode") {
  torch::manual_seed(0);
  auto t = test::make_tiny_model("actmad");
  auto& root = t.model->root();
  CHECK(t.method->has_post_training());
  CHECK_FALSE(t.method->has_source_objective());
  const auto bn_layers = test::count_batchnorm(root, "backbone.");
  CHECK(bn_layers == 20);
  auto buffers = root.named_buffers(true);
  CHECK(test::with_prefix(test::parameter_names(root), "method.").empty());  // no parameters added

  // Shapes: those of the recorded BN outputs at the training size.
  at::Tensor probe = at::zeros({2, 3, 32, 32});
  std::vector<at::Tensor> outputs;
  {
    at::NoGradGuard no_grad;
    root.eval();
    ForwardOptions fo;
    fo.record_norm_outputs = true;
    outputs = t.model->features(probe, fo).norm_outputs;
  }
  REQUIRE(static_cast<std::int64_t>(outputs.size()) == bn_layers);
  for (size_t i = 0; i < outputs.size(); ++i) {
    auto expected = outputs[i].sizes().slice(1).vec();
    CHECK(buffers["method.mean_" + std::to_string(i)].sizes().vec() == expected);
    CHECK(buffers["method.var_" + std::to_string(i)].sizes().vec() == expected);
  }
  CHECK(buffers["method.mean_0"].sizes().vec() == std::vector<std::int64_t>{8, 16, 16});  // stem bn1, stride 2
  CHECK(buffers["method.batches"].item<std::int64_t>() == 0);
  CHECK_THROWS_AS(t.method->begin_adaptation(*t.model), Error);  // no statistics yet

  // Collect, with the model left in train mode by the caller: the method must use eval mode.
  root.train();
  auto running_before = test::clone_state(root);
  collect(t);
  CHECK(root.is_training());  // training flags restored
  CHECK(test::changed(root, running_before, /*buffers=*/true) ==
        [&] {
          std::set<std::string> s;
          for (auto& [name, v] : running_before)
            if (name.rfind("method.", 0) == 0) s.insert(name);
          return s;
        }());  // only the method's buffers changed, not the BN running statistics
  buffers = root.named_buffers(true);
  CHECK(buffers["method.batches"].item<std::int64_t>() == 3);  // the one-image batch is skipped

  // Values: per-location mean / unbiased variance over each batch, averaged over batches.
  at::Tensor mean0 = at::zeros({8, 16, 16}), var_last = at::zeros_like(buffers["method.var_19"]);
  {
    at::NoGradGuard no_grad;
    root.eval();
    ForwardOptions fo;
    fo.record_norm_outputs = true;
    for (auto& b : source_batches(t.tasks)) {
      if (b.size() < 2) continue;
      auto outs = t.model->features(b.images, fo).norm_outputs;
      mean0 += outs.front().mean(0) / 3.0;
      var_last += outs.back().var({0}, true, false) / 3.0;
    }
  }
  CHECK(at::allclose(buffers["method.mean_0"], mean0, 1e-5, 1e-6));
  CHECK(at::allclose(buffers["method.var_19"], var_last, 1e-5, 1e-6));
  // They live in the checkpointed state.
  CHECK(state_dict_of(root).count("method.var_19") == 1);
}

TEST_CASE("actmad: the alignment loss falls while all backbone parameters adapt with BatchNorm in eval mode") {
  torch::manual_seed(0);
  auto t = test::make_tiny_model("actmad");
  auto& root = t.model->root();
  collect(t);
  auto images = target_images(t.tasks);
  test::HostLikeAdapter adapter(t, 5e-3);
  CHECK(adapter.policy.adapt_norm == NormMode::Eval);
  CHECK(adapter.policy.predict_norm == NormMode::Eval);
  const auto all = test::parameter_names(root);
  CHECK(std::set<std::string>(adapter.selected.begin(), adapter.selected.end()) == all);  // no method parameters

  auto before = test::clone_state(root);
  auto losses = adapter.run(images, 8);
  MESSAGE("actmad losses: first " << losses.front() << ", last " << losses.back());
  for (double l : losses) CHECK(std::isfinite(l));
  CHECK(losses.front() > 0.0);
  CHECK(losses.back() < losses.front());
  // Every backbone parameter moved; heads get no gradient from BN-output statistics.
  CHECK(test::changed(root, before) == test::with_prefix(all, "backbone."));
  // Running statistics (and the source statistics) are untouched.
  for (auto& [name, value] : before)
    if (name.find("running_") != std::string::npos || name.rfind("method.", 0) == 0)
      CHECK_MESSAGE(at::equal(root.named_buffers(true)[name], value), name);
}

TEST_CASE("actmad: test images of another size") {
  torch::manual_seed(0);
  for (std::string mode : {"resize_statistics", "resize_input", "error"}) {
    CAPTURE(mode);
    auto t = test::make_tiny_model("actmad", {.method_options = {{"size_mismatch", Value(mode)}}});
    collect(t);
    auto images = target_images(t.tasks, {48, 40});
    t.model->root().train();
    apply_norm_mode(t.model->root(), NormMode::Eval);
    if (mode == "error") {
      CHECK_THROWS_AS(t.method->adaptation_loss(*t.model, images, {}), DataError);
    } else {
      auto loss = t.method->adaptation_loss(*t.model, images, {});
      CHECK(std::isfinite(loss.item<double>()));
      loss.backward();  // differentiable through the resized statistics / input
    }
  }
}
