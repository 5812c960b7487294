// TTT++ method plugin: METHODS.md §2.4.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cmath>

#include "baseline_helpers.hpp"
#include "s4t/error.hpp"
#include "s4t/norm.hpp"
#include "s4t_doctest.hpp"

using namespace s4t;
using namespace s4t::test;

namespace {

// A small head keeps the test fast; the default 2048-wide head is counted in test_param_counts.
TinyModelOptions small_head(std::map<std::string, Value> extra = {}) {
  TinyModelOptions o;
  o.method_options = {{"hidden", Value(std::int64_t{64})}, {"queue_size", Value(std::int64_t{8})}};
  for (auto& [k, v] : extra) o.method_options[k] = v;
  return o;
}

VectorBatchStream source_stream(const std::vector<TaskSpec>& tasks, int batches) {
  std::vector<Batch> b;
  for (int i = 0; i < batches; ++i) b.push_back(random_batch(tasks, 8, {32, 32}, 100 + static_cast<std::uint64_t>(i)));
  return VectorBatchStream(b);
}

at::Tensor buffer(TinyModel& t, const std::string& name) { return t.model->root().named_buffers(true)[name]; }

/// Running BatchNorm statistics close to the batch statistics, as after source training (the moments are
/// collected in eval mode, the target features come from train mode).
void settle_batchnorm(TinyModel& t, VectorBatchStream& stream) {
  at::NoGradGuard no_grad;
  t.model->root().train();
  for (int epoch = 0; epoch < 10; ++epoch) {
    stream.restart();
    Batch b;
    while (stream.next(b)) t.model->features(b.images);
  }
}

}  // namespace

TEST_CASE("tttpp method plugin") {
  SUBCASE("cheap factory with source objective and post-training") {
    auto method =
        build_registry().make_method("tttpp", BuildContext{}, component_options(ComponentKind::Method, "tttpp"));
    CHECK(method->has_source_objective());
    CHECK(method->has_post_training());
    auto& c = build_registry().get(ComponentKind::Method, "tttpp");
    CHECK(c.info.doc.find("149.65") != std::string::npos);
  }

  SUBCASE("source moments after post-training have the right shapes and values") {
    auto t = make_tiny_model("tttpp", small_head());
    const std::int64_t c = t.model->feature_info().fused_channels;  // 120 for ResNet-18 width 8
    auto stream = source_stream(t.tasks, 3);
    auto before = snapshot(t);
    t.method->after_source_training(*t.model, stream);
    auto after = snapshot(t);
    for (auto& name : changed_parameters(t, before, after)) FAIL_CHECK("post-training changed parameter " << name);
    for (auto& name : changed_buffers(t, before, after)) CHECK_MESSAGE(starts_with(name, "method."), name);

    CHECK(buffer(t, "method.enc_mean").sizes().vec() == std::vector<std::int64_t>{c});
    CHECK(buffer(t, "method.enc_cov").sizes().vec() == std::vector<std::int64_t>{c, c});
    CHECK(buffer(t, "method.head_mean").sizes().vec() == std::vector<std::int64_t>{128});
    CHECK(buffer(t, "method.head_cov").sizes().vec() == std::vector<std::int64_t>{128, 128});
    CHECK(buffer(t, "method.source_samples").item<double>() == 24.0);
    for (auto ref : {"method.enc_coral_ref", "method.enc_mean_ref", "method.head_coral_ref", "method.head_mean_ref"})
      CHECK_MESSAGE(buffer(t, ref).item<double>() > 0.0, ref);

    // The encoder moments are those of the globally pooled fused map in eval mode.
    at::NoGradGuard no_grad;
    t.model->root().eval();
    std::vector<at::Tensor> feats;
    stream.restart();
    Batch b;
    while (stream.next(b)) feats.push_back(t.model->features(b.images).fused.mean({2, 3}));
    at::Tensor f = at::cat(feats, 0);
    at::Tensor centred = f - f.mean(0, true);
    at::Tensor cov = at::matmul(centred.t(), centred) / 23.0;
    CHECK(at::allclose(buffer(t, "method.enc_mean"), f.mean(0), 1e-4, 1e-5));
    CHECK(at::allclose(buffer(t, "method.enc_cov"), cov, 1e-3, 1e-5));
  }

  SUBCASE("without source moments the alignment loss says what is missing") {
    auto t = make_tiny_model("tttpp", small_head({{"loss", Value(std::string("align"))}}));
    auto batch = random_batch(t.tasks, 4, {32, 32}, 3);
    t.model->root().train();
    CHECK_THROWS_AS(t.method->adaptation_loss(*t.model, batch.images, {}), s4t::Error);
  }

  SUBCASE("test-time loss falls, only the backbone adapts, BatchNorm statistics update") {
    auto t = make_tiny_model("tttpp", small_head());
    auto stream = source_stream(t.tasks, 3);
    settle_batchnorm(t, stream);
    t.method->after_source_training(*t.model, stream);
    auto batch = random_batch(t.tasks, 8, {32, 32}, 21);
    auto before = snapshot(t);
    AdaptEmulator a(t, /*lr=*/0.01);
    CHECK(a.policy().adapt_norm == NormMode::TrainUpdate);
    CHECK(a.policy().predict_norm == NormMode::Eval);
    CHECK(a.policy().optimizer.momentum == doctest::Approx(0.9));
    std::vector<double> losses;
    for (int i = 0; i < 12; ++i) losses.push_back(a.step(batch.images, {i + 1, 0}));
    for (double l : losses) CHECK(std::isfinite(l));
    MESSAGE("tttpp losses: first " << losses.front() << ", last " << losses.back());
    CHECK(tail_mean(losses, 3) < head_mean(losses, 3));
    auto after = snapshot(t);
    auto changed = changed_parameters(t, before, after);
    CHECK_FALSE(changed.empty());
    for (auto& name : changed) CHECK_MESSAGE(starts_with(name, "backbone."), name);
    auto buffers = changed_buffers(t, before, after);
    CHECK(buffers.count("backbone.bn1.running_mean"));
    for (auto& name : buffers) CHECK_MESSAGE(!starts_with(name, "method."), name);  // source moments stay

    // A second target batch: the first one's features join the FIFO queue.
    auto next = random_batch(t.tasks, 8, {32, 32}, 22);
    CHECK(std::isfinite(a.step(next.images, {1, 1})));
    CHECK(std::isfinite(a.step(next.images, {2, 1})));
  }

  SUBCASE("the source objective trains the SimCLR head") {
    auto t = make_tiny_model("tttpp", small_head());
    auto batch = random_batch(t.tasks, 4, {32, 32}, 31);
    at::Tensor main;
    at::Tensor total = source_total(t, batch, &main);
    CHECK(total.item<double>() > main.item<double>());  // + SimCLR loss (positive)
    total.backward();
    auto params = t.model->root().named_parameters(true);
    for (auto name : {"method.fc1.weight", "method.fc2.weight", "backbone.conv1.weight"})
      CHECK_MESSAGE(params[name].grad().abs().sum().item<double>() > 0.0, name);
  }
}
