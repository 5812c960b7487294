// Each on-disk format loads through the command line from a config: `s4t train` (2 iterations) then
// `s4t eval` on tiny fixture datasets of NYUD-v2 (MTI-Net and ATRC layouts), PASCAL-Context and Taskonomy.
#include <fstream>

#include "fixtures.hpp"
#include "s4t_testkit/doctest.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
namespace fx = s4t::test::fixtures;

namespace {
void train_and_eval(const fs::path& dir, const std::string& dataset, const fs::path& root, const std::string& tasks) {
  std::ofstream(dir / "exp.toml") << "[run]\nname = \"fixture\"\noutput_dir = \"" << (dir / "runs").string()
                                  << "\"\nprogress = false\n[backbone.resnet]\ndepth = 18\nwidth = 4\n"
                                  << "[tasks]\nnames = " << tasks << "\n[data]\nworkers = 1\n"
                                  << "[data.source]\ndataset = \"" << dataset << "\"\nroot = \"" << root.string()
                                  << "\"\nheight = 16\nwidth = 16\n"
                                  << "[data.target]\ndataset = \"" << dataset << "\"\nroot = \"" << root.string()
                                  << "\"\nheight = 16\nwidth = 16\n"
                                  << "[train]\niterations = 2\nbatch = 2\n[ttt]\nbatch = 2\n";
  const std::string s4t = s4t::test::s4t_binary().string() + " ";
  std::string out;
  REQUIRE_MESSAGE(s4t::test::run_command(s4t + "train " + (dir / "exp.toml").string(), out) == 0, out);
  REQUIRE_MESSAGE(s4t::test::run_command(s4t + "eval " + (dir / "exp.toml").string(), out) == 0, out);
  CHECK(out.find("on the target set") != std::string::npos);
  CHECK(out.find("semseg") != std::string::npos);
  CHECK(out.find("nan") == std::string::npos);
}
}  // namespace

TEST_CASE("s4t eval from a config: NYUD-v2, MTI-Net layout (JPEG, PNG, NPY)") {
  s4t::test::TempDir dir;
  auto f = fx::write_nyud(dir.path() / "NYUDv2", /*atrc=*/false, 16, 16, 4, 2);
  train_and_eval(dir.path(), "nyudv2", f.root, "[\"semseg\", \"depth\", \"normals\", \"edge\"]");
}

TEST_CASE("s4t eval from a config: NYUD-v2, ATRC layout (PNG)") {
  s4t::test::TempDir dir;
  auto f = fx::write_nyud(dir.path() / "NYUDv2", /*atrc=*/true, 16, 16, 4, 2);
  train_and_eval(dir.path(), "nyudv2", f.root, "[\"semseg\", \"depth\", \"normals\", \"edge\"]");
}

#ifdef S4T_HAVE_MATIO
TEST_CASE("s4t eval from a config: PASCAL-Context (JPEG, palette PNG, MAT)") {
  s4t::test::TempDir dir;
  auto f = fx::write_pascal(dir.path() / "PASCALContext", 4, 2);
  train_and_eval(dir.path(), "pascal_context", f.root, "[\"semseg\", \"normals\", \"edge\"]");
}
#endif

TEST_CASE("s4t eval from a config: Taskonomy (8/16-bit PNG, split CSV)") {
  s4t::test::TempDir dir;
  auto f = fx::write_taskonomy(dir.path() / "taskonomy", 3, 16);
  train_and_eval(dir.path(), "taskonomy", f.root, "[\"semseg\", \"depth\", \"normals\", \"edge\"]");
}
