// ActMAD: location-aware BatchNorm-output statistics, collected after source training, aligned at test time.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/utils.h>

#include <cmath>

#include "method_runs.hpp"
#include "parameters.hpp"
#include "s4t/error.hpp"

using namespace s4t;

namespace {
testkit::Recipe actmad(std::map<std::string, Value> options = {}) {
  testkit::Recipe r;
  r.method = "actmad";
  r.method_options = std::move(options);
  return r;
}
// Source statistics from three batches of four images (+ a one-image batch that must be skipped).
std::vector<Batch> source_batches(const std::vector<TaskSpec>& tasks) {
  return {testkit::random_batch(tasks, 4, {32, 32}, 11), testkit::random_batch(tasks, 4, {32, 32}, 12),
          testkit::random_batch(tasks, 1, {32, 32}, 13), testkit::random_batch(tasks, 4, {32, 32}, 14)};
}
// The method's own call, so the test sees which training flags it leaves behind.
void collect(testkit::TinyExperiment& x) {
  testkit::VectorBatchStream stream(source_batches(x.tasks()));
  x.method().after_source_training(x.model(), stream);
}
// A shifted target batch (different intensity statistics than the N(0, 1) source images).
at::Tensor target_images(const std::vector<TaskSpec>& tasks, std::array<std::int64_t, 2> size = {32, 32}) {
  return testkit::random_batch(tasks, 4, size, 21).images.mul(1.5).add(0.5);
}
}  // namespace

TEST_CASE("actmad: one C x H x W mean/variance buffer pair per BatchNorm output collected in eval mode") {
  testkit::TinyExperiment x(actmad());
  auto& root = x.root();
  CHECK(x.method_traits().post_training);
  CHECK_FALSE(x.method_traits().source_objective);
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
    outputs = x.model().features(probe, fo).norm_outputs;
  }
  REQUIRE(static_cast<std::int64_t>(outputs.size()) == bn_layers);
  for (size_t i = 0; i < outputs.size(); ++i) {
    auto expected = outputs[i].sizes().slice(1).vec();
    CHECK(buffers["method.mean_" + std::to_string(i)].sizes().vec() == expected);
    CHECK(buffers["method.var_" + std::to_string(i)].sizes().vec() == expected);
  }
  CHECK(buffers["method.mean_0"].sizes().vec() == std::vector<std::int64_t>{8, 16, 16});  // stem bn1, stride 2
  CHECK(buffers["method.batches"].item<std::int64_t>() == 0);
  CHECK_THROWS_AS(x.method().begin_adaptation(x.model()), Error);  // no statistics yet

  // Collect, with the model left in train mode by the caller: the method must use eval mode.
  root.train();
  auto running_before = testkit::clone_state(root);
  collect(x);
  CHECK(root.is_training());  // training flags restored
  CHECK(testkit::changed(root, running_before, /*buffers=*/true) ==
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
    for (auto& b : source_batches(x.tasks())) {
      if (b.size() < 2) continue;
      auto outs = x.model().features(b.images, fo).norm_outputs;
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
  testkit::TinyExperiment x(actmad({{"lr", Value(5e-3)}}));
  auto& root = x.root();
  x.post_train(source_batches(x.tasks()));
  auto images = target_images(x.tasks());
  auto& session = x.session();
  CHECK(session.policy().adapt_norm == NormMode::Eval);
  CHECK(session.policy().predict_norm == NormMode::Eval);
  const auto all = test::parameter_names(root);
  CHECK(std::set<std::string>(session.adapted_names().begin(), session.adapted_names().end()) == all);  // no method parameters

  auto before = testkit::clone_state(root);
  auto losses = test::steps(session, images, 8);
  MESSAGE("actmad losses: first " << losses.front() << ", last " << losses.back());
  for (double l : losses) CHECK(std::isfinite(l));
  CHECK(losses.front() > 0.0);
  CHECK(losses.back() < losses.front());
  // Every backbone parameter moved; heads get no gradient from BN-output statistics.
  CHECK(testkit::changed(root, before) == test::with_prefix(all, "backbone."));
  // Running statistics (and the source statistics) are untouched.
  for (auto& [name, value] : before)
    if (name.find("running_") != std::string::npos || name.rfind("method.", 0) == 0)
      CHECK_MESSAGE(at::equal(root.named_buffers(true)[name], value), name);
}

TEST_CASE("actmad: test images of another size") {
  for (std::string mode : {"resize_statistics", "resize_input", "error"}) {
    CAPTURE(mode);
    testkit::TinyExperiment x(actmad({{"size_mismatch", Value(mode)}}));
    collect(x);
    auto images = target_images(x.tasks(), {48, 40});
    if (mode == "error") {
      CHECK_THROWS_AS(test::loss_in_mode(x, images, NormMode::Eval), DataError);
    } else {
      auto loss = test::loss_in_mode(x, images, NormMode::Eval);
      CHECK(std::isfinite(loss.item<double>()));
      loss.backward();  // differentiable through the resized statistics / input
    }
  }
}
