// TTT++ method plugin.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cmath>

#include "method_runs.hpp"
#include "parameters.hpp"
#include "s4t/error.hpp"
#include "s4t/losses.hpp"

using namespace s4t;
using namespace s4t::test;

namespace {

// A small head keeps the test fast; the default 2048-wide head is counted in integration/.
testkit::Recipe small_head(std::map<std::string, Value> extra = {}) {
  testkit::Recipe r;
  r.method = "tttpp";
  r.method_options = {{"hidden", Value(std::int64_t{64})}, {"queue_size", Value(std::int64_t{8})}};
  for (auto& [k, v] : extra) r.method_options[k] = v;
  return r;
}

std::vector<Batch> source_batches(const std::vector<TaskSpec>& tasks, int batches) {
  std::vector<Batch> b;
  for (int i = 0; i < batches; ++i)
    b.push_back(testkit::random_batch(tasks, 8, {32, 32}, 100 + static_cast<std::uint64_t>(i)));
  return b;
}

at::Tensor buffer(testkit::TinyExperiment& x, const std::string& name) { return x.root().named_buffers(true)[name]; }

/// Running BatchNorm statistics close to the batch statistics, as after source training (the moments are
/// collected in eval mode, the target features come from train mode).
void settle_batchnorm(testkit::TinyExperiment& x, const std::vector<Batch>& batches) {
  at::NoGradGuard no_grad;
  x.root().train();
  for (int epoch = 0; epoch < 10; ++epoch)
    for (auto& b : batches) x.model().features(b.images);
}

}  // namespace

TEST_CASE("tttpp method plugin") {
  SUBCASE("cheap factory with source objective and post-training") {
    testkit::Plugins plugins;
    CHECK(plugins.make_method("tttpp"));
    CHECK(plugins.method_traits("tttpp").source_objective);
    CHECK(plugins.method_traits("tttpp").post_training);
    CHECK(plugins.info(ComponentKind::Method, "tttpp").doc.find("149.65") != std::string::npos);
  }

  SUBCASE("source moments after post-training have the right shapes and values") {
    testkit::TinyExperiment x(small_head());
    const std::int64_t c = x.model().feature_info().fused_channels;  // 120 for ResNet-18 width 8
    auto batches = source_batches(x.tasks(), 3);
    auto before = testkit::clone_state(x.root());
    x.post_train(batches);
    for (auto& name : testkit::changed(x.root(), before)) FAIL_CHECK("post-training changed parameter " << name);
    for (auto& name : testkit::changed(x.root(), before, /*buffers=*/true)) CHECK_MESSAGE(starts_with(name, "method."), name);

    CHECK(buffer(x, "method.enc_mean").sizes().vec() == std::vector<std::int64_t>{c});
    CHECK(buffer(x, "method.enc_cov").sizes().vec() == std::vector<std::int64_t>{c, c});
    CHECK(buffer(x, "method.head_mean").sizes().vec() == std::vector<std::int64_t>{128});
    CHECK(buffer(x, "method.head_cov").sizes().vec() == std::vector<std::int64_t>{128, 128});
    CHECK(buffer(x, "method.source_samples").item<double>() == 24.0);
    for (auto ref : {"method.enc_coral_ref", "method.enc_mean_ref", "method.head_coral_ref", "method.head_mean_ref"})
      CHECK_MESSAGE(buffer(x, ref).item<double>() > 0.0, ref);

    // The encoder moments are those of the globally pooled fused map in eval mode.
    at::NoGradGuard no_grad;
    x.root().eval();
    std::vector<at::Tensor> feats;
    for (auto& b : batches) feats.push_back(x.model().features(b.images).fused.mean({2, 3}));
    at::Tensor f = at::cat(feats, 0);
    at::Tensor centred = f - f.mean(0, true);
    at::Tensor cov = at::matmul(centred.t(), centred) / 23.0;
    CHECK(at::allclose(buffer(x, "method.enc_mean"), f.mean(0), 1e-4, 1e-5));
    CHECK(at::allclose(buffer(x, "method.enc_cov"), cov, 1e-3, 1e-5));
  }

  SUBCASE("without source moments the alignment loss says what is missing") {
    testkit::TinyExperiment x(small_head({{"loss", Value(std::string("align"))}}));
    auto batch = x.random_batch(4, 3);
    x.root().train();
    CHECK_THROWS_AS(x.method().adaptation_loss(x.model(), batch.images, {}), s4t::Error);
  }

  SUBCASE("test-time loss falls, only the backbone adapts, BatchNorm statistics update") {
    testkit::TinyExperiment x(small_head({{"lr", Value(0.01)}}));
    auto batches = source_batches(x.tasks(), 3);
    settle_batchnorm(x, batches);
    x.post_train(batches);
    auto batch = x.random_batch(8, 21);
    auto before = testkit::clone_state(x.root());
    auto& session = x.session();
    CHECK(session.policy().adapt_norm == NormMode::TrainUpdate);
    CHECK(session.policy().predict_norm == NormMode::Eval);
    CHECK(session.policy().optimizer.momentum == doctest::Approx(0.9));
    auto losses = steps(session, batch.images, 12);
    for (double l : losses) CHECK(std::isfinite(l));
    MESSAGE("tttpp losses: first " << losses.front() << ", last " << losses.back());
    CHECK(tail_mean(losses, 3) < head_mean(losses, 3));
    auto changed = testkit::changed(x.root(), before);
    CHECK_FALSE(changed.empty());
    for (auto& name : changed) CHECK_MESSAGE(starts_with(name, "backbone."), name);
    auto buffers = testkit::changed(x.root(), before, /*buffers=*/true);
    CHECK(buffers.count("backbone.bn1.running_mean"));
    for (auto& name : buffers) CHECK_MESSAGE(!starts_with(name, "method."), name);  // source moments stay

    // A second target batch: the first one's features join the FIFO queue.
    auto next = x.random_batch(8, 22);
    CHECK(std::isfinite(session.step(next.images, {1, 1}).loss));
    CHECK(std::isfinite(session.step(next.images, {2, 1}).loss));
  }

  SUBCASE("the source objective trains the SimCLR head") {
    testkit::TinyExperiment x(small_head());
    auto batch = x.random_batch(4, 31);
    std::map<std::string, at::Tensor> main;
    at::Tensor total = x.source_loss(batch, &main);
    CHECK(total.item<double>() > weighted_sum(x.tasks(), main).item<double>());  // + SimCLR loss (positive)
    total.backward();
    auto params = x.root().named_parameters(true);
    for (auto name : {"method.fc1.weight", "method.fc2.weight", "backbone.conv1.weight"})
      CHECK_MESSAGE(params[name].grad().abs().sum().item<double>() > 0.0, name);
  }
}
