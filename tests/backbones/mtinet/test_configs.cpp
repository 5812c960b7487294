// The shipped MTI-Net demo config: demo.toml with the architecture swapped, composed by the host's own
// code (host::build_model).
#include <torch/nn/module.h>


#include "config/config_tree.hpp"
#include "config/experiment.hpp"
#include "config_diff.hpp"
#include "engine/setup.hpp"
#include "host_registry.hpp"
#include "parameters.hpp"
#include "s4t_testkit/doctest.hpp"
#include "test_support.hpp"

using namespace s4t;
using namespace s4t::host;

TEST_CASE("the shipped configs: demo_mtinet.toml is demo.toml with the architecture swapped") {
  auto& registry = test::plugin_registry();
  const auto root = test::source_dir() / "configs";
  if (!registry.find(ComponentKind::Dataset, "synthetic")) {
    MESSAGE("the synthetic dataset plugin is not in this build: config composition not checked");
    return;
  }
  auto base = validate_experiment(ConfigTree::load(root / "demo.toml"), registry);
  auto mti = validate_experiment(ConfigTree::load(root / "mtinet" / "demo_mtinet.toml"), registry);
  CHECK(base.backbone.name == "resnet");
  CHECK(mti.backbone.name == "mtinet");
  // Every resolved key agrees except the architecture, the run name and the shorter source training.
  for (auto& key : test::differing_keys(mti.resolved(), base.resolved())) {
    const bool architecture = key == "model.backbone" || key.rfind("backbone.mtinet.", 0) == 0;
    const bool allowed = architecture || key == "run.name" || key == "train.iterations";
    CHECK_MESSAGE(allowed, key);
  }

  // Both build through the host's own composition (host::build_model), with the same tasks and method.
  auto source = make_dataset(mti, registry, "source");
  auto target = make_dataset(mti, registry, "target");
  auto tasks = resolve_tasks(mti, *source, target.get());
  auto a = build_model(base, registry, tasks, {64, 64}, "s4t");
  auto b = build_model(mti, registry, tasks, {64, 64}, "s4t");
  CHECK(test::has_parameter_prefix(a.model->root(), "heads."));
  CHECK(test::has_parameter_prefix(a.model->root(), "method.ts_comp."));
  CHECK_FALSE(test::has_parameter_prefix(b.model->root(), "heads."));
  CHECK(test::has_parameter_prefix(b.model->root(), "method.ts_proj."));
}
