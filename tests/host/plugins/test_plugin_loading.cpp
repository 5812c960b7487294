// The plugin loader's handshake, with deliberately broken plugins (tests/fixtures).
#include "s4t_testkit/doctest.hpp"

#include "plugins/plugin_loader.hpp"
#include "s4t/error.hpp"
#include "s4t/version.hpp"
#include "test_support.hpp"

using namespace s4t;
using namespace s4t::host;

namespace {
std::filesystem::path fixture(const std::string& name) {
  return test::fixture_dir() / name / (name == "no_entry" ? "fixture_no_entry.so" : "fixture_" + name + ".so");
}
}  // namespace

TEST_CASE("the first-party plugins load and register their components") {
  ComponentRegistry r;
  load_plugin_dirs({test::plugin_dir()}, r);
  CHECK(r.failures().empty());
  CHECK(r.find(ComponentKind::Backbone, "resnet") != nullptr);
  CHECK(r.find(ComponentKind::Head, "conv1x1") != nullptr);
  CHECK(r.find(ComponentKind::Method, "none") != nullptr);
  CHECK(r.find(ComponentKind::Dataset, "synthetic") != nullptr);
}

TEST_CASE("a plugin built for another SDK ABI is refused naming file, expected and found version") {
  ComponentRegistry r;
  CHECK_FALSE(load_plugin_file(fixture("bad_abi"), r));
  REQUIRE(r.failures().size() == 1);
  auto& f = r.failures().front();
  CHECK(f.file.find("fixture_bad_abi.so") != std::string::npos);
  CHECK(f.reason.find("999") != std::string::npos);
  CHECK(f.reason.find("expects ABI " + std::to_string(S4T_SDK_ABI_VERSION)) != std::string::npos);
  CHECK(r.find(ComponentKind::Method, "fixture_bad_abi") == nullptr);
}

TEST_CASE("the run goes on with the other plugins when one is refused") {
  std::string out;
  int rc = test::run_command(test::s4t_binary().string() + " plugins --plugin-dir " + (test::fixture_dir() / "bad_abi").string(), out);
  CHECK(rc == 0);
  CHECK(out.find("resnet") != std::string::npos);
  CHECK(out.find("Failed to load") != std::string::npos);
  CHECK(out.find("fixture_bad_abi.so") != std::string::npos);
  CHECK(out.find("SDK ABI 999") != std::string::npos);
}

TEST_CASE("a library without the entry point is reported as not a plugin") {
  ComponentRegistry r;
  CHECK_FALSE(load_plugin_file(fixture("no_entry"), r));
  CHECK(r.failures().front().reason.find("s4t_plugin_entry") != std::string::npos);
}

TEST_CASE("a duplicate component name is an error naming both files") {
  ComponentRegistry r;
  load_plugin_dirs({test::plugin_dir()}, r);
  CHECK_FALSE(load_plugin_file(fixture("duplicate"), r));
  auto& f = r.failures().back();
  CHECK(f.reason.find("duplicate method 'none'") != std::string::npos);
  CHECK(f.reason.find("none.so") != std::string::npos);
  CHECK(f.reason.find("fixture_duplicate.so") != std::string::npos);
  // the first registration stays in place
  CHECK(r.find(ComponentKind::Method, "none")->file.find("none.so") != std::string::npos);
}

TEST_CASE("a register function that throws refuses the plugin; a factory that throws names component and file") {
  ComponentRegistry r;
  CHECK_FALSE(load_plugin_file(fixture("throwing_register"), r));
  CHECK(r.failures().front().reason.find("fixture refuses to register") != std::string::npos);
  REQUIRE(load_plugin_file(fixture("throwing_factory"), r));
  try {
    r.make_method("fixture_throws", BuildContext{}, Options());
    FAIL("expected PluginError");
  } catch (const PluginError& e) {
    std::string m = e.what();
    CHECK(m.find("method 'fixture_throws'") != std::string::npos);
    CHECK(m.find("fixture_throwing_factory.so") != std::string::npos);
    CHECK(m.find("fixture factory always throws") != std::string::npos);
  }
}

TEST_CASE("objects made by a plugin keep working and the search path follows the documented order") {
  ComponentRegistry r;
  REQUIRE(load_plugin_file(fixture("good"), r));
  auto m = r.make_method("fixture_good", BuildContext{}, Options());
  REQUIRE(m);
  CHECK_FALSE(r.method_traits("fixture_good").source_objective);
  setenv("S4T_PLUGIN_PATH", "/env/a:/env/b", 1);
  auto path = plugin_search_path({"/cli"}, {"/config"});
  unsetenv("S4T_PLUGIN_PATH");
  REQUIRE(path.size() >= 5);  // + the build tree (this test binary is not installed)
  CHECK(path[0] == "/cli");
  CHECK(path[1] == "/env/a");
  CHECK(path[2] == "/env/b");
  CHECK(path[3] == "/config");
  CHECK(path.back() == S4T_BUILD_PLUGIN_DIR);
}
