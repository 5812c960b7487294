// The host's AdaptationSession through the test kit, with the probe methods of
// tests/support/plugins/session_probe: errors name method, file, phase, batch and step; the guard undoes
// exploding and non-finite steps completely; reset() restores the source weights.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cmath>

#include "s4t/error.hpp"
#include "s4t_testkit/doctest.hpp"
#include "s4t_testkit/testkit.hpp"

using namespace s4t;

namespace {
testkit::Recipe probe(const std::string& method, std::map<std::string, Value> options = {}) {
  testkit::Recipe r;
  r.method = method;
  r.method_options = std::move(options);
  return r;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("session: a step updates only what the policy selects and reset() restores the source weights") {
  testkit::TinyExperiment x(probe("probe_plain", {{"lr", Value(0.1)}}));
  auto& root = x.root();
  auto images = x.random_batch(4, 1).images;
  auto source = testkit::clone_state(root);
  auto& session = x.session();
  auto outcome = session.step(images, {1, 0});
  CHECK(outcome.ran);
  CHECK(outcome.updated);
  CHECK_FALSE(outcome.diverged);
  CHECK(std::isfinite(outcome.loss));
  CHECK(session.updates() == 1);
  auto moved = testkit::changed(root, source);
  CHECK_FALSE(moved.empty());
  for (auto& name : moved) CHECK_MESSAGE(name.rfind("backbone.", 0) == 0, name);
  CHECK_FALSE(testkit::changed(root, source, /*buffers=*/true).empty());  // TrainUpdate moved the statistics
  session.reset();
  CHECK(testkit::changed(root, source).empty());
  CHECK(testkit::changed(root, source, /*buffers=*/true).empty());
}

TEST_CASE("session: an exception in adaptation_loss names method, file, phase, batch and step") {
  testkit::TinyExperiment x(probe("probe_throws"));
  const std::string file = x.plugins().file(ComponentKind::Method, "probe_throws").string();
  CHECK(contains(file, "session_probe.so"));
  auto images = x.random_batch(2, 1).images;
  std::string message;
  try {
    x.session().step(images, AdaptContext{2, 3});
  } catch (const PluginError& e) {
    message = e.what();
  }
  INFO(message);
  REQUIRE_FALSE(message.empty());
  CHECK(contains(message, "probe_throws"));
  CHECK(contains(message, file));
  CHECK(contains(message, "adaptation_loss"));
  CHECK(contains(message, "batch 3"));
  CHECK(contains(message, "step 2"));
  CHECK(contains(message, "the probe always fails here"));
}

TEST_CASE("session: an exploding update (lr 1e30) is undone as diverged, weights and buffers unchanged") {
  testkit::TinyExperiment x(probe("probe_plain", {{"lr", Value(1e30)}}));
  auto& root = x.root();
  auto images = x.random_batch(4, 2).images;
  auto before = testkit::clone_state(root);
  auto& session = x.session();
  auto outcome = session.step(images, {1, 0});
  CHECK(outcome.ran);
  CHECK(outcome.diverged);
  CHECK_FALSE(outcome.updated);
  CHECK(session.updates() == 0);
  CHECK(session.diverged_steps() == 1);
  CHECK(testkit::changed(root, before).empty());
  CHECK(testkit::changed(root, before, /*buffers=*/true).empty());
  for (auto& [task, p] : session.predict(images)) CHECK_MESSAGE(p.isfinite().all().item<bool>(), task);
}

TEST_CASE("session: a NaN loss is undone as diverged, weights and BatchNorm buffers unchanged") {
  testkit::TinyExperiment x(probe("probe_nan", {{"lr", Value(0.1)}}));
  auto& root = x.root();
  auto images = x.random_batch(4, 3).images;
  auto before = testkit::clone_state(root);
  auto& session = x.session();
  for (std::int64_t step = 1; step <= 2; ++step) {
    auto outcome = session.step(images, {step, 0});
    CHECK(outcome.ran);
    CHECK(outcome.diverged);
    CHECK_FALSE(outcome.updated);
    CHECK(std::isnan(outcome.loss));
  }
  CHECK(session.diverged_steps() == 2);
  CHECK(testkit::changed(root, before).empty());
  // The forward pass ran in TrainUpdate mode, so the running statistics moved before the loss was seen.
  CHECK(testkit::changed(root, before, /*buffers=*/true).empty());
}
