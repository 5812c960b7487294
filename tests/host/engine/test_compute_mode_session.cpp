// [run] memory_format, precision and the deferred guard through the host's session on CPU: channels_last
// adapts and predicts like contiguous, bf16 autocast stays near fp32, and the deferred mode (no host
// sync per step) keeps and undoes exactly the steps the synced mode does.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cmath>

#include "compute_runs.hpp"

using namespace s4t;
using namespace s4t::test;

TEST_CASE("compute mode: channels_last adapts and predicts like contiguous (s4t, tent; CPU)") {
  for (const std::string method : {"s4t", "tent"}) {
    INFO(method);
    auto r = compute_recipe(method);
    auto plain = adapt_tiny(r, 3);
    r.session.compute.channels_last = true;
    auto nhwc = adapt_tiny(r, 3);
    // Same math, different kernel order: float rounding only (measured ~1e-6).
    CHECK(max_relative(nhwc.before, plain.before) < 1e-4);
    CHECK(max_relative(nhwc.losses, plain.losses) < 1e-4);
    CHECK(max_relative(nhwc.after, plain.after) < 1e-4);
    CHECK(max_relative(plain.after, plain.before) > 1e-4);  // the steps changed something worth comparing
  }
}

TEST_CASE("compute mode: channels_last converts the 4-D weights once, and the session snapshot keeps them") {
  testkit::Recipe r = compute_recipe("tent");
  r.session.compute.channels_last = true;
  testkit::TinyExperiment x(r);
  auto& session = x.session();
  std::int64_t four_d = 0;
  for (auto& p : x.root().parameters(true))
    if (p.dim() == 4) {
      ++four_d;
      CHECK(p.is_contiguous(at::MemoryFormat::ChannelsLast));
    }
  CHECK(four_d > 0);
  auto images = x.random_batch(2, 3).images;
  session.step(images, {1, 0});
  session.reset();
  for (auto& p : x.root().parameters(true))
    if (p.dim() == 4) CHECK(p.is_contiguous(at::MemoryFormat::ChannelsLast));
}

// The bf16 checks train the tiny model for 20 source steps first (a random initialisation with batch
// statistics amplifies rounding far beyond what a trained model sees) and compare what metrics read:
// segmentation classes (argmax) and the relative L2 error of the dense maps.
// S4T is not in the CPU bf16 cases: LibTorch 1.13's CPU autocast leaves layer_norm alone and its CPU
// kernel refuses a bf16 input with fp32 weights, which the TBS's bf16 token stream hits (docs/gpu.md).
// CUDA autocast runs layer_norm in fp32: test_cuda_session.cpp covers S4T in bf16.
// Measured on 1.13 / 2 cores: classes 2.2% (3.3% after the steps), dense 1.0% (2.5%), losses 0.4%.
TEST_CASE("compute mode: bf16 autocast on CPU runs and stays close to fp32 on metric-like gaps (s4t, tent)") {
  for (const std::string method : {"s4t", "tent"}) {
    INFO(method);
    auto r = compute_recipe(method);
    r.method_options["lr"] = Value(1e-3);  // a TTT-sized step (a large one makes any rounding grow chaotically)
    auto fp32 = adapt_tiny(r, 2, 20);
    r.session.compute.bf16 = true;
    auto bf16 = adapt_tiny(r, 2, 20);
    for (double l : bf16.losses) CHECK(std::isfinite(l));
    CHECK(bf16.updates == 2);
    const auto before = metric_gap(bf16.before, fp32.before), after = metric_gap(bf16.after, fp32.after);
    const double loss_gap = max_relative(bf16.losses, fp32.losses);
    MESSAGE(method << ": bf16 vs fp32 after 20 source steps: semseg classes differing " << before.class_disagreement
                   << " (after 2 TTT steps " << after.class_disagreement << "), dense relative L2 "
                   << before.dense_relative_l2 << " (" << after.dense_relative_l2 << "), losses " << loss_gap);
    // bf16 rounding depends on the CPU's kernels: under 5% on the first machine this was measured on, 11-15%
    // semseg classes and 7-8% dense L2 on an AMD EPYC without native bf16 (a tiny, barely trained net, where
    // many pixels sit near a class boundary). The bounds catch a broken autocast (a wrong dtype or scale
    // gives ~50-100%), not the CPU's rounding.
    CHECK(before.class_disagreement < 0.25);
    CHECK(after.class_disagreement < 0.25);
    CHECK(before.dense_relative_l2 < 0.15);
    CHECK(after.dense_relative_l2 < 0.15);
    CHECK(loss_gap < 0.05);
    CHECK(before.dense_relative_l2 > 0.0);  // autocast really ran in bf16
  }
}

TEST_CASE("compute mode: bf16 + channels_last together stay near fp32 contiguous (tent, CPU)") {
  auto r = compute_recipe("tent");
  r.method_options["lr"] = Value(1e-3);
  auto fp32 = adapt_tiny(r, 2, 20);
  r.session.compute = {true, true};
  auto both = adapt_tiny(r, 2, 20);
  const auto gap = metric_gap(both.after, fp32.after);
  MESSAGE("tent: bf16 + channels_last vs fp32 contiguous after 2 TTT steps: semseg classes differing "
          << gap.class_disagreement << ", dense relative L2 " << gap.dense_relative_l2);
  CHECK(gap.class_disagreement < 0.05);
  CHECK(gap.dense_relative_l2 < 0.05);
  CHECK(max_relative(both.losses, fp32.losses) < 0.05);
}

TEST_CASE("deferred guard: the same steps, losses and weights as the synced mode, read in one flush") {
  for (const std::string method : {"s4t", "probe_plain"}) {
    INFO(method);
    auto r = compute_recipe(method);
    auto synced = adapt_tiny(r, 3);
    r.session.sync_each_step = false;
    auto deferred = adapt_tiny(r, 3);
    CHECK(deferred.updates == 3);
    CHECK(max_relative(deferred.losses, synced.losses) < 1e-6);
    CHECK(max_relative(deferred.after, synced.after) < 1e-5);
  }
}

TEST_CASE("deferred guard: an exploding step (lr 1e30) is undone on the device: weights, buffers, counters") {
  testkit::Recipe r = compute_recipe("probe_plain");
  r.method_options = {{"lr", Value(1e30)}};
  r.session.sync_each_step = false;
  testkit::TinyExperiment x(r);
  auto images = x.random_batch(4, 2).images;
  auto& session = x.session();
  auto before = testkit::clone_state(x.root());
  auto outcome = session.step(images, {1, 0});
  CHECK(outcome.ran);
  CHECK(outcome.deferred);
  CHECK(testkit::changed(x.root(), before).empty());
  CHECK(testkit::changed(x.root(), before, /*buffers=*/true).empty());
  session.step(images, {2, 0});
  CHECK(session.diverged_steps() == 2);  // reads the pending steps
  CHECK(session.updates() == 0);
  auto records = session.flush();  // still handed out once, in order
  REQUIRE(records.size() == 2);
  CHECK(records[0].diverged);
  CHECK_FALSE(records[0].updated);
  CHECK(std::isfinite(records[0].loss));
  CHECK(session.flush().empty());
}

TEST_CASE("deferred guard: a non-finite loss is undone on the device and recorded as NaN") {
  testkit::Recipe r = compute_recipe("probe_nan");
  r.session.sync_each_step = false;
  testkit::TinyExperiment x(r);
  auto images = x.random_batch(4, 2).images;
  auto& session = x.session();
  auto before = testkit::clone_state(x.root());
  session.step(images, {1, 0});
  session.step(images, {2, 0});
  CHECK(testkit::changed(x.root(), before).empty());
  CHECK(testkit::changed(x.root(), before, /*buffers=*/true).empty());  // the forward's statistics undone too
  auto records = session.flush();
  REQUIRE(records.size() == 2);
  for (auto& rec : records) {
    CHECK(rec.diverged);
    CHECK(std::isnan(rec.loss));
  }
  CHECK(session.updates() == 0);
  CHECK(session.diverged_steps() == 2);
}
