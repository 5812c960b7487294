// Method traits are static: every first-party method registers, through s4t::add_method<M>, the traits
// of what M overrides, and the registry derives the source checkpoint a method adapts from them.
#include "s4t_testkit/doctest.hpp"

#include <set>

#include "host_registry.hpp"
#include "s4t/error.hpp"

using namespace s4t;

TEST_CASE("every first-party method registers the traits of what it overrides") {
  struct Expected {
    const char* method;
    bool source_objective;  // overrides source_objective()
    bool post_training;     // overrides after_source_training()
  };
  const Expected expected[] = {{"s4t", true, false},    {"ttt", true, false},     {"tttpp", true, true},
                               {"clust3", true, false}, {"ncttt", true, false},   {"actmad", false, true},
                               {"tttflow", false, true}, {"tent", false, false},  {"tipi", false, false},
                               {"none", false, false}};
  auto& registry = test::plugin_registry();
  std::set<std::string> unchecked;
  for (auto* c : registry.of_kind(ComponentKind::Method))
    if (c->plugin_id.rfind("s4t.", 0) == 0) unchecked.insert(c->info.name);
  for (auto& e : expected) {
    const std::string name = e.method;
    CAPTURE(name);
    REQUIRE_MESSAGE(registry.find(ComponentKind::Method, name), "method '" << name << "' is not in this build");
    const MethodTraits& traits = registry.method_traits(name);
    CHECK(traits.source_objective == e.source_objective);
    CHECK(traits.post_training == e.post_training);
    CHECK(registry.source_key(name) == (e.source_objective || e.post_training ? name : std::string("base")));
    unchecked.erase(name);
  }
  std::string left;
  for (auto& name : unchecked) left += " " + name;
  CHECK_MESSAGE(unchecked.empty(), "first-party methods this test does not know:" << left);
}

TEST_CASE("the traits of an unknown method are a ConfigError naming the valid methods") {
  CHECK_THROWS_WITH_AS(test::plugin_registry().method_traits("tnet"), doctest::Contains("tent"), ConfigError);
}
