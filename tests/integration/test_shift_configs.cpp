// The shipped shift benchmark (configs/shifts/): each family file is base.toml with only the run name and
// the target's shift families changed, and the synthetic dataset builds each target.
#include "s4t_testkit/doctest.hpp"

#include <string>
#include <vector>

#include "config/config_tree.hpp"
#include "config/experiment.hpp"
#include "config_diff.hpp"
#include "engine/setup.hpp"
#include "host_registry.hpp"
#include "test_support.hpp"

using namespace s4t;
using namespace s4t::host;

TEST_CASE("the shipped shift configs differ from their base only in run name and target shifts") {
  auto& registry = test::plugin_registry();
  if (!registry.find(ComponentKind::Dataset, "synthetic")) {
    MESSAGE("the synthetic dataset plugin is not in this build: shift configs not checked");
    return;
  }
  const auto root = test::source_dir() / "configs" / "shifts";
  const ConfigTree base = validate_experiment(ConfigTree::load(root / "base.toml"), registry).resolved();
  const std::vector<std::pair<std::string, std::vector<std::string>>> files = {
      {"appearance", {"appearance"}},
      {"camera", {"camera"}},
      {"layout", {"layout"}},
      {"lighting", {"lighting"}},
      {"all", {"appearance", "camera", "layout", "lighting"}}};
  for (const auto& [name, shifts] : files) {
    CAPTURE(name);
    auto experiment = validate_experiment(ConfigTree::load(root / (name + ".toml")), registry);
    const ConfigTree tree = experiment.resolved();
    REQUIRE(tree.find("data.target.shifts") != nullptr);
    CHECK(std::get<std::vector<std::string>>(tree.find("data.target.shifts")->value) == shifts);
    CHECK(std::get<std::string>(tree.find("run.name")->value) == "shifts_" + name);
    for (auto& key : test::differing_keys(tree, base))
      CHECK_MESSAGE((key == "run.name" || key == "data.target.shifts"), key);
    CHECK(make_dataset(experiment, registry, "target")->size() > 0);
  }
}
