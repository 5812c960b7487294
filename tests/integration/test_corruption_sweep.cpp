// `s4t compare --corruptions ... --severities ...`: one comparison per corruption and severity on one
// source training, a table per severity with the mean and rank rows; bad names stop it before training.
#include "s4t_testkit/doctest.hpp"

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace s4t;

namespace {
std::string compare_command(const fs::path& dir, const std::string& extra) {
  return test::s4t_binary().string() + " compare " + (test::source_dir() / "configs" / "demo.toml").string() +
         " --set train.iterations=2 --set data.source.size=8 --set data.target.size=4 --set data.source.height=32"
         " --set data.source.width=32 --set data.target.height=32 --set data.target.width=32"
         " --set backbone.resnet.width=8 --set ttt.steps=2 --set run.progress=false --set data.workers=0"
         " --set run.output_dir=" + (dir / "runs").string() + " --methods none,tent " + extra;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("compare --corruptions runs every corruption and severity on one source training") {
  test::TempDir dir;
  std::string out;
  REQUIRE_MESSAGE(test::run_command(compare_command(dir.path(), "--corruptions gaussian_noise,fog --severities 1,4"), out) == 0, out);
  INFO(out);
  CHECK(count(out, "source training [none] finished") == 1);  // trained once, copied to the other three points
  CHECK(count(out, "source models of seed 0 copied") == 3);
  for (auto row : {"| gaussian_noise |", "| fog |", "| mean |", "| rank |"}) CHECK(count(out, row) == 2);
  CHECK(out.find("## severity 1") != std::string::npos);
  CHECK(out.find("## severity 4") != std::string::npos);
  const fs::path top = dir.path() / "runs" / "demo";
  CHECK(fs::exists(top / "corruptions.md"));
  for (auto severity : {"severity-1", "severity-4"}) {
    std::ifstream in(top / severity / "sweep.json");
    REQUIRE(in.good());
    auto sweep = nlohmann::json::parse(in);
    REQUIRE(sweep["points"].size() == 2);
    CHECK(sweep["points"][0]["value"] == "gaussian_noise");
    // The two corruptions are different targets: the same source model adapts to different results.
    CHECK(sweep["points"][0]["methods"]["tent"]["per_task"] != sweep["points"][1]["methods"]["tent"]["per_task"]);
    CHECK(sweep["label"] == severity);
  }
  // s4t report: per severity, the Δ_TTT curve over corruptions and the heatmap method x corruption.
  REQUIRE_MESSAGE(test::run_command(test::s4t_binary().string() + " report " + top.string(), out) == 0, out);
  for (auto figure : {"heatmap_data_target_corruption_severity-1", "heatmap_data_target_corruption_severity-4",
                      "sweep_data_target_corruption_severity-1", "sweep_data_target_corruption_severity-4"})
    for (auto format : {".png", ".svg"}) CHECK_MESSAGE(fs::file_size(top / "report" / (std::string(figure) + format)) > 0, figure << format);
}

TEST_CASE("compare --corruptions refuses a bad corruption or severity before anything trains") {
  test::TempDir dir;
  std::string out;
  CHECK(test::run_command(compare_command(dir.path(), "--corruptions fog,bogus"), out) != 0);
  CHECK(out.find("--corruptions bogus") != std::string::npos);
  CHECK(out.find("gaussian_noise") != std::string::npos);  // the valid names are listed
  CHECK(test::run_command(compare_command(dir.path(), "--corruptions fog --severities 9"), out) != 0);
  CHECK(out.find("severity 9") != std::string::npos);
  CHECK(test::run_command(compare_command(dir.path(), "--corruptions fog,fog"), out) != 0);
  CHECK(out.find("listed twice") != std::string::npos);
  CHECK(test::run_command(compare_command(dir.path(), "--severities 2"), out) != 0);
  CHECK(out.find("--severities needs --corruptions") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.path() / "runs" / "demo" / "seed-0"));
  CHECK_FALSE(fs::exists(dir.path() / "runs" / "demo" / "severity-9"));
}
