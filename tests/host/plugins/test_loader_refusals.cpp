// The loader refuses broken plugins (tests/fixtures, one per folder under S4T_TEST_FIXTURE_DIR) with a
// reason a user can act on, and never crashes. A fixture folder that is missing fails its test.
#include "s4t_testkit/doctest.hpp"

#include <filesystem>
#include <vector>

#include "plugins/plugin_loader.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace s4t;
using namespace s4t::host;

namespace {
bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// The one shared library in fixture folder `folder`.
fs::path fixture_library(const std::string& folder) {
  const fs::path dir = test::fixture_dir() / folder;
  REQUIRE_MESSAGE(fs::is_directory(dir), "fixture folder " << dir.string()
                                                           << " does not exist (tests/fixtures/CMakeLists.txt builds it)");
  std::vector<fs::path> libraries;
  for (auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".so") libraries.push_back(entry.path());
  REQUIRE_MESSAGE(libraries.size() == 1, "fixture folder " << dir.string() << " holds " << libraries.size()
                                                           << " .so files, expected one");
  return libraries.front();
}

/// Why the loader refuses the fixture of `folder` (the test fails if it is accepted).
std::string refusal(const std::string& folder) {
  const fs::path file = fixture_library(folder);
  ComponentRegistry r;
  CHECK_FALSE(load_plugin_file(file, r));
  REQUIRE(r.failures().size() == 1);
  CHECK(contains(r.failures().front().file, file.filename().string()));
  CHECK(r.all().empty());  // nothing of a refused plugin is registered
  return r.failures().front().reason;
}
}  // namespace

TEST_CASE("a plugin built against SDK ABI 1 is refused with a request to rebuild it") {
  auto reason = refusal("old_abi");
  INFO(reason);
  CHECK(contains(reason, "SDK ABI 1"));
  CHECK(contains(reason, "rebuild"));
}

TEST_CASE("a plugin built for another device is refused, naming the device (cuda on a CPU host)") {
  auto reason = refusal("wrong_device");  // claims the device this host's LibTorch was not built for
  INFO(reason);
#ifdef S4T_TORCH_CUDA
  CHECK(contains(reason, "cpu"));
#else
  CHECK(contains(reason, "cuda"));
#endif
}

TEST_CASE("a plugin whose boundary types have other sizes is refused") {
  auto reason = refusal("bad_fingerprint");
  INFO(reason);
  CHECK(contains(reason, "type sizes differ"));
}

TEST_CASE("a component name that could escape a run folder is refused, quoted") {
  auto reason = refusal("bad_name");
  INFO(reason);
  CHECK(contains(reason, "invalid"));
  CHECK(contains(reason, "../../x"));
}

TEST_CASE("a register function that throws something other than std::exception is refused") {
  auto reason = refusal("non_std_throw");
  INFO(reason);
  CHECK(contains(reason, "non-standard exception"));
}

TEST_CASE("a truncated shared library is refused without a crash") {
  auto reason = refusal("truncated");
  INFO(reason);
  CHECK(contains(reason, "truncated"));
}
