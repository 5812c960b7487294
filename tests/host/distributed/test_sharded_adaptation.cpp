// Sharded adaptation (docs/distributed.md#sharded-adaptation) over 2 thread-"ranks" with the thread
// collectives: the episodic and single_batch_then_eval trajectories equal those of one process that saw
// the whole target set (metrics, images, batches, updates, per-step losses), with 7 target images so the
// shards differ in size; synchronised BatchNorm stays off while adapting (with it on, the rank with fewer
// batches would leave the other waiting); a distributed online run is a ConfigError.
#include <ATen/ATen.h>

#include <cmath>
#include <vector>

#include "../distributed/thread_collectives.hpp"
#include "config/experiment.hpp"
#include "depth_shrink_method.hpp"
#include "engine/adapter.hpp"
#include "engine/trainer.hpp"
#include "plugins/plugin_loader.hpp"
#include "run/run_directory.hpp"
#include "s4t/error.hpp"
#include "s4t_testkit/doctest.hpp"
#include "test_support.hpp"

using namespace s4t;
using namespace s4t::host;

namespace {

Experiment experiment(const test::TempDir& dir, const ComponentRegistry& registry, const std::string& protocol) {
  auto tree = ConfigTree::parse(
      "[run]\nname = \"shard\"\noutput_dir = \"" + (dir.path() / "runs").string() +
          "\"\nprogress = false\n[backbone.resnet]\ndepth = 18\nwidth = 4\n"
          "[data.source]\ndataset = \"synthetic\"\nsize = 4\nheight = 64\nwidth = 64\n"
          "[data.target]\ndataset = \"synthetic\"\ndomain = \"target\"\nsize = 7\nheight = 64\nwidth = 64\n"
          "[data]\nworkers = 0\n[train]\niterations = 1\nbatch = 4\n[ttt]\nmethod = \"shrink\"\nsteps = 2\nbatch = 1\n"
          "affinity = false\nprotocol = \"" + protocol + "\"\n",
      "shard.toml");
  return validate_experiment(tree, registry);
}

void check_same(const Trajectory& a, const Trajectory& b) {
  CHECK(a.images == b.images);
  CHECK(a.batches == b.batches);
  CHECK(a.updates == b.updates);
  REQUIRE(a.values.size() == b.values.size());
  for (std::size_t s = 0; s < a.values.size(); ++s)
    for (std::size_t t = 0; t < a.values[s].size(); ++t) CHECK(a.values[s][t] == doctest::Approx(b.values[s][t]).epsilon(1e-9));
  REQUIRE(a.loss.size() == b.loss.size());
  for (std::size_t s = 0; s < a.loss.size(); ++s) CHECK(a.loss[s] == doctest::Approx(b.loss[s]).epsilon(1e-9));
}
}  // namespace

TEST_CASE("sharded adaptation over 2 ranks equals one process, and online is refused") {
  test::TempDir dir;
  ComponentRegistry registry;
  load_plugin_dirs({test::plugin_dir()}, registry);
  test::register_depth_shrink_method(registry, "shrink");

  auto x0 = experiment(dir, registry, "episodic");
  RunDirectory run(x0, registry, "test");
  auto ckpt = ensure_source_checkpoint(x0, registry, run, "shrink");

  for (std::string protocol : {"episodic", "single_batch_then_eval"}) {
    CAPTURE(protocol);
    auto x = experiment(dir, registry, protocol);
    const Trajectory single = adapt(x, registry, "shrink", ckpt);
    CHECK(single.images == 7);
    CHECK(single.updates == (protocol == "episodic" ? 14 : 2));

    auto group = std::make_shared<test::ThreadCollectives>(2);
    test::ScopedCollectives scope(group, /*sync_bn=*/true);  // adaptation must switch it off
    std::vector<Trajectory> ranks(2);
    test::run_ranks(2, [&](int r) { ranks[r] = adapt(x, registry, "shrink", ckpt); });
    CHECK(group->calls() > 0);
    // The model changed the metric (otherwise "equal" would prove little).
    bool changed = false;
    for (std::size_t t = 0; t < single.values.front().size(); ++t)
      changed = changed || single.values.back()[t] != doctest::Approx(single.values.front()[t]).epsilon(1e-9);
    CHECK(changed);
    check_same(ranks[0], single);
    check_same(ranks[1], single);
  }

  auto online = experiment(dir, registry, "online");
  test::ScopedCollectives scope(std::make_shared<test::ThreadCollectives>(2), false);
  CHECK_THROWS_WITH_AS(adapt(online, registry, "shrink", ckpt), doctest::Contains("\"online\""), ConfigError);
}
