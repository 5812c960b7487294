// Config loading, composition and validation errors (file, line, key, what was expected).
#include "s4t_testkit/doctest.hpp"

#include <fstream>

#include <toml++/toml.h>

#include "config/experiment.hpp"
#include "host_registry.hpp"
#include "s4t/error.hpp"
#include "test_support.hpp"

using namespace s4t;
using namespace s4t::host;

namespace {
std::string error_of(const std::string& toml) {
  try {
    validate_experiment(ConfigTree::parse(toml, "exp.toml"), test::plugin_registry());
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

void write(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
}
}  // namespace

TEST_CASE("a misspelt key names file, line, the key and the closest valid key") {
  auto msg = error_of("[run]\nname = \"x\"\n\n[ttt]\nstpes = 40\n");
  CHECK(msg.find("exp.toml:5") != std::string::npos);
  CHECK(msg.find("'stpes'") != std::string::npos);
  CHECK(msg.find("did you mean 'steps'") != std::string::npos);
}

TEST_CASE("wrong types and out-of-range values name the key and both sides") {
  auto msg = error_of("[ttt]\nsteps = \"forty\"\n");
  CHECK(msg.find("exp.toml:2") != std::string::npos);
  CHECK(msg.find("steps") != std::string::npos);
  CHECK(msg.find("expected integer") != std::string::npos);
  CHECK(msg.find("string") != std::string::npos);
  auto range = error_of("[ttt]\nsteps = -1\n");
  CHECK(range.find("out of range") != std::string::npos);
  auto choice = error_of("[ttt]\nprotocol = \"sometimes\"\n");
  CHECK(choice.find("episodic") != std::string::npos);
}

TEST_CASE("unknown tables and component names list the valid ones with a suggestion") {
  CHECK(error_of("[tt]\nsteps = 3\n").find("did you mean 'ttt'") != std::string::npos);
  auto msg = error_of("[model]\nbackbone = \"resnt\"\n");
  CHECK(msg.find("unknown backbone 'resnt'") != std::string::npos);
  CHECK(msg.find("did you mean 'resnet'") != std::string::npos);
  auto method = error_of("[method.nonee]\nlr = 1.0\n");
  CHECK(method.find("did you mean 'none'") != std::string::npos);
  auto backbone_key = error_of("[backbone.resnet]\ndepht = 18\n");
  CHECK(backbone_key.find("did you mean 'depth'") != std::string::npos);
  auto dataset_key = error_of("[data.source]\ndataset = \"synthetic\"\nsise = 10\n");
  CHECK(dataset_key.find("'sise'") != std::string::npos);
  CHECK(error_of("stray = 1\n").find("outside any table") != std::string::npos);
}

TEST_CASE("valid config fills defaults and exposes typed options") {
  auto x = validate_experiment(ConfigTree::parse("[ttt]\nsteps = 3\n[backbone.resnet]\ndepth = 18\n", "exp.toml"),
                               test::plugin_registry());
  CHECK(x.section("ttt").get_int("steps") == 3);
  CHECK(x.section("ttt").get_string("protocol") == "episodic");
  CHECK(x.backbone.options.get_int("depth") == 18);
  CHECK(x.backbone.options.get_int("width") == 64);
  auto text = x.resolved().to_toml();
  CHECK(text.find("steps = 3") != std::string::npos);
  CHECK(text.find("protocol = 'episodic'") != std::string::npos);  // defaults are written out
}

TEST_CASE("extends composes files and --set overrides any key") {
  test::TempDir dir;
  write(dir.path() / "base.toml", "[ttt]\nsteps = 5\nbatch = 4\n[run]\nname = \"base\"\n");
  write(dir.path() / "exp.toml", "extends = \"base.toml\"\n[ttt]\nsteps = 7\n");
  auto tree = ConfigTree::load(dir.path() / "exp.toml");
  tree.set_override("run.name=override");
  tree.set_override("ttt.protocol = \"online\"");
  auto x = validate_experiment(tree, test::plugin_registry());
  CHECK(x.section("ttt").get_int("steps") == 7);
  CHECK(x.section("ttt").get_int("batch") == 4);
  CHECK(x.section("run").get_string("name") == "override");
  CHECK(x.section("ttt").get_string("protocol") == "online");
  // errors in a base file point at the base file
  write(dir.path() / "base.toml", "[ttt]\nstpes = 5\n");
  try {
    validate_experiment(ConfigTree::load(dir.path() / "exp.toml"), test::plugin_registry());
    FAIL("expected an error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()).find("base.toml:2") != std::string::npos);
  }
}

TEST_CASE("syntax errors and missing files are reported with their location") {
  test::TempDir dir;
  write(dir.path() / "bad.toml", "[ttt]\nsteps = = 3\n");
  CHECK_THROWS_WITH_AS(ConfigTree::load(dir.path() / "bad.toml"), doctest::Contains("bad.toml:2"), ConfigError);
  CHECK_THROWS_WITH_AS(ConfigTree::load(dir.path() / "nope.toml"), doctest::Contains("does not exist"), ConfigError);
  write(dir.path() / "cycle.toml", "extends = \"cycle.toml\"\n");
  CHECK_THROWS_WITH_AS(ConfigTree::load(dir.path() / "cycle.toml"), doctest::Contains("cycle"), ConfigError);
}

// toml++ 3.3 reached __builtin_unreachable (undefined behaviour) when it asked whether such characters
// are whitespace; the build uses its headers with the upstream fix (cmake/PatchedTomlplusplus.cmake).
// Evaluated at compile time, the unfixed test is not a constant expression, so this would not build.
static_assert(!toml::impl::is_non_ascii_horizontal_whitespace(U'\u00E9'));

TEST_CASE("non-ASCII text outside strings is a syntax error with its location; inside strings it is kept") {
  // fuzz/corpus/config/regression_nul_in_string_then_non_ascii_unreachable.toml
  const std::string fuzz_finding = std::string("a =8==\"") + '\0' + std::string(27, '=') + "'''" +
                                   std::string(22, '=') + "1\xC3\xA9\n#0\xC3\xA9\n";
  for (const std::string& text : {std::string("x = 1\xC3\xA9\n"), std::string("[m\xC3\xA9thod]\nx = 1\n"),
                                  std::string("[ttt]\nsteps = 3 \xD2\x81\n"), fuzz_finding}) {
    CAPTURE(text);
    CHECK_THROWS_WITH_AS(ConfigTree::parse(text, "exp.toml"), doctest::Contains("exp.toml:"), ConfigError);
  }
  // A line-ending backslash trims the whitespace up to the next character, which toml++ tests too.
  auto tree = ConfigTree::parse("[run]\nname = \"\"\"\\\n\xC2\xA7 d\xC3\xA9mo\"\"\"\n", "exp.toml");
  CHECK(std::get<std::string>(tree.entries().at("run.name").value) == "\xC2\xA7 d\xC3\xA9mo");
  tree.set_override("run.name=d\xC3\xA9mo");  // not TOML: a bare word is a string
  CHECK(std::get<std::string>(tree.entries().at("run.name").value) == "d\xC3\xA9mo");
}
