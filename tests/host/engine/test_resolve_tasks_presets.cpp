// The paper-pair presets of configs/real validate against every schema, and each `<pair>_released.toml`
// differs from its `<pair>_supplement.toml` in exactly the keys of docs/methods.md#fidelity-to-the-released-code
// (the data itself is absent here: only the configuration is checked).
#include <set>

#include "config/config_tree.hpp"
#include "config/experiment.hpp"
#include "config_diff.hpp"
#include "host_registry.hpp"
#include "s4t_testkit/doctest.hpp"
#include "test_support.hpp"

using namespace s4t;
using namespace s4t::host;

namespace {
bool have_all_plugins(const ComponentRegistry& registry) {
  for (auto* name : {"none", "s4t", "tent", "tipi", "ttt", "tttpp", "tttflow", "clust3", "actmad", "ncttt"})
    if (!registry.find(ComponentKind::Method, name)) return false;
  for (auto* name : {"nyudv2", "pascal_context", "taskonomy"})
    if (!registry.find(ComponentKind::Dataset, name)) return false;
  return registry.find(ComponentKind::Backbone, "resnet") && registry.find(ComponentKind::Head, "conv1x1");
}
}  // namespace

TEST_CASE("configs/real: every preset validates, released = supplement + the documented differences") {
  auto& registry = test::plugin_registry();
  if (!have_all_plugins(registry)) {
    MESSAGE("not every method/dataset plugin is in this build: the configs/real presets are not checked");
    return;
  }
  const auto dir = test::source_dir() / "configs" / "real";
  const std::set<std::string> common = {"run.name",   "tasks.metric_spec", "ttt.protocol", "ttt.eval_every",
                                        "ttt.select", "ttt.grid",          "compare.base"};
  auto with = [&](std::set<std::string> extra) {
    extra.insert(common.begin(), common.end());
    return extra;
  };
  const std::map<std::string, std::set<std::string>> expected = {
      {"taskonomy_to_nyud",
       with({"data.source.label_resize", "data.source.flip_normals", "method.s4t.ttt_task_weights",
             "method.s4t.normals_loss", "ttt.grid_size"})},
      {"taskonomy_to_pascal",
       with({"data.source.label_resize", "data.source.flip_normals", "data.target.pad", "method.s4t.ttt_task_weights",
             "method.s4t.normals_loss"})},
      {"nyud_to_taskonomy",
       with({"tasks.clamp_depth", "data.target.label_resize", "method.s4t.lambda_tp", "method.s4t.lambda_tbs_source",
             "method.s4t.ttt_weighting"})},
      {"pascal_to_taskonomy",
       with({"data.source.pad", "data.target.label_resize", "method.s4t.lambda_tp", "method.s4t.lambda_tbs_source",
             "method.s4t.ttt_weighting"})},
  };
  for (auto& [pair, keys] : expected) {
    INFO(pair);
    auto load = [&](const std::string& suffix) {
      return validate_experiment(ConfigTree::load(dir / (pair + suffix + ".toml")), registry);
    };
    Experiment released = load("_released"), supplement = load("_supplement"), old_name = load("");
    CHECK(test::differing_keys(released.resolved(), supplement.resolved()) == keys);
    // The old name is the supplement preset under its old run name.
    CHECK(test::differing_keys(old_name.resolved(), supplement.resolved()) == std::set<std::string>{"run.name"});
    CHECK(old_name.section("run").get_string("name") == pair);
    // The released protocol and the text's.
    CHECK(released.section("ttt").get_string("protocol") == "single_batch_then_eval");
    CHECK(released.section("ttt").get_int("steps") == 40);
    CHECK(supplement.section("ttt").get_string("protocol") == "online");
    CHECK(supplement.section("ttt").get_string("select") == "oracle");
    CHECK(supplement.method_options("s4t").get_float("lambda_tp") == 1.0);
    CHECK(supplement.method_options("s4t").get_float("lambda_tbs_source") == 1.0);
    CHECK(supplement.method_options("s4t").get_float("lambda_tbs") == 0.01);
  }
}
