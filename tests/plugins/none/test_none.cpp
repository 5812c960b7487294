// The `none` method (Base): no source objective, no post-training, and a step that changes nothing.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "s4t_testkit/doctest.hpp"
#include "s4t_testkit/testkit.hpp"

using namespace s4t;

TEST_CASE("none: adapts the shared Base checkpoint and a step runs nothing") {
  testkit::TinyExperiment x;
  CHECK_FALSE(x.method_traits().source_objective);
  CHECK_FALSE(x.method_traits().post_training);
  CHECK(x.parameter_counts()["method"] == 0);
  auto& root = x.root();
  auto images = x.random_batch(2, 1).images;
  auto before = testkit::clone_state(root);
  auto& session = x.session();
  auto prediction = session.predict(images);
  auto outcome = session.step(images, {1, 0});
  CHECK_FALSE(outcome.ran);
  CHECK_FALSE(outcome.updated);
  CHECK_FALSE(outcome.diverged);
  CHECK(session.updates() == 0);
  CHECK(testkit::changed(root, before).empty());
  CHECK(testkit::changed(root, before, /*buffers=*/true).empty());
  for (auto& [task, p] : session.predict(images)) CHECK_MESSAGE(at::equal(p, prediction.at(task)), task);
}
