// The host's session on CUDA against the same session on the CPU (same seed, same weights: the model is
// built on the CPU and moved): S4T (mask_ratio 0, so no device random stream is involved), TENT and
// the probe adapt alike; bf16 autocast stays near fp32; channels_last and the deferred guard agree with
// contiguous and synced. Without a CUDA device every case passes with a message saying it was skipped.
#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <torch/cuda.h>

#include <cmath>

#include "compute_runs.hpp"

using namespace s4t;
using namespace s4t::test;

namespace {
bool have_cuda() {
  if (torch::cuda::is_available()) {
    // fp32 means fp32: TF32 convolutions and matmuls would differ from the CPU by ~1e-3 by design.
    at::globalContext().setAllowTF32CuDNN(false);
    at::globalContext().setFloat32MatmulPrecision("highest");
    return true;
  }
  return false;
}

testkit::Recipe on_cuda(testkit::Recipe r) {
  r.device = at::Device(at::kCUDA, 0);
  return r;
}

std::vector<std::string> methods() { return {"s4t", "tent", "probe_plain"}; }

testkit::Recipe recipe(const std::string& method) {
  auto r = compute_recipe(method);
  return r;
}
}  // namespace

TEST_CASE("cuda: each method adapts on cuda as on the cpu (relative 1e-3 after 3 steps)") {
  if (!have_cuda()) {
    MESSAGE("skipped: no CUDA device (this LibTorch: torch::cuda::is_available() is false)");
    return;
  }
  for (auto& method : methods()) {
    INFO(method);
    auto cpu = adapt_tiny(recipe(method), 3);
    auto gpu = adapt_tiny(on_cuda(recipe(method)), 3);
    // Different reduction orders (cuDNN vs oneDNN), fp32: ~1e-5 per op, grown through 3 updates.
    CHECK(max_relative(gpu.before, cpu.before) < 1e-4);
    CHECK(max_relative(gpu.losses, cpu.losses) < 1e-3);
    CHECK(max_relative(gpu.after, cpu.after) < 1e-3);
    CHECK(gpu.updates == 3);
  }
}

// As the CPU bf16 case (test_compute_mode_session.cpp): 20 source steps first, TTT-sized learning rate,
// metric-like gaps (segmentation classes differing, relative L2 of the dense maps) within 5%.
TEST_CASE("cuda: bf16 autocast stays within 5% of fp32 on metric-like gaps (s4t, tent)") {
  if (!have_cuda()) {
    MESSAGE("skipped: no CUDA device");
    return;
  }
  for (const std::string method : {"s4t", "tent"}) {
    INFO(method);
    auto r = on_cuda(recipe(method));
    r.method_options["lr"] = Value(1e-3);
    auto fp32 = adapt_tiny(r, 2, 20);
    r.session.compute.bf16 = true;
    auto bf16 = adapt_tiny(r, 2, 20);
    const auto before = metric_gap(bf16.before, fp32.before), after = metric_gap(bf16.after, fp32.after);
    MESSAGE(method << " on cuda: bf16 vs fp32: semseg classes differing " << before.class_disagreement << " ("
                   << after.class_disagreement << " after 2 steps), dense relative L2 " << before.dense_relative_l2
                   << " (" << after.dense_relative_l2 << ")");
    CHECK(before.class_disagreement < 0.05);
    CHECK(after.class_disagreement < 0.05);
    CHECK(before.dense_relative_l2 < 0.05);
    CHECK(after.dense_relative_l2 < 0.05);
    CHECK(before.dense_relative_l2 > 0.0);
    CHECK(max_relative(bf16.losses, fp32.losses) < 0.05);
  }
}

TEST_CASE("cuda: channels_last and the deferred guard agree with contiguous and synced") {
  if (!have_cuda()) {
    MESSAGE("skipped: no CUDA device");
    return;
  }
  for (auto& method : methods()) {
    INFO(method);
    auto r = on_cuda(recipe(method));
    auto plain = adapt_tiny(r, 3);
    auto nhwc_recipe = r;
    nhwc_recipe.session.compute.channels_last = true;
    auto nhwc = adapt_tiny(nhwc_recipe, 3);
    CHECK(max_relative(nhwc.after, plain.after) < 1e-3);
    auto deferred_recipe = r;
    deferred_recipe.session.sync_each_step = false;
    auto deferred = adapt_tiny(deferred_recipe, 3);
    CHECK(deferred.updates == 3);
    CHECK(max_relative(deferred.losses, plain.losses) < 1e-5);
    CHECK(max_relative(deferred.after, plain.after) < 1e-5);
  }
}

TEST_CASE("cuda: the deferred guard undoes an exploding step on the device") {
  if (!have_cuda()) {
    MESSAGE("skipped: no CUDA device");
    return;
  }
  auto r = on_cuda(recipe("probe_plain"));
  r.method_options = {{"lr", Value(1e30)}};
  r.session.sync_each_step = false;
  testkit::TinyExperiment x(r);
  auto images = x.random_batch(4, 2).images;
  auto before = testkit::clone_state(x.root());
  x.session().step(images, {1, 0});
  CHECK(testkit::changed(x.root(), before).empty());
  CHECK(x.session().diverged_steps() == 1);
}
