// `s4t report` on fixture run directories: table rows (mean ± std over seeds) and non-empty figures.
#include <fstream>
#include <nlohmann/json.hpp>

#include "s4t_testkit/doctest.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace s4t;

namespace {
// A metrics.json as `s4t adapt` writes it: two tasks, steps 0..3.
void write_metrics(const fs::path& dir, const std::string& method, double gain, const nlohmann::json& affinity = {}) {
  nlohmann::json j;
  j["method"] = method;
  j["protocol"] = "episodic";
  j["tasks"] = {{{"name", "semseg"}, {"metric", "mIoU"}, {"higher_is_better", true}},
                {{"name", "depth"}, {"metric", "RMSE"}, {"higher_is_better", false}}};
  j["steps"] = {0, 1, 2, 3};
  j["trajectory"]["semseg"] = {50.0, 50.0 + gain, 50.0 + 2 * gain, 50.0 + gain};
  j["trajectory"]["depth"] = {1.0, 1.0 - 0.01 * gain, 1.0, 1.0 + 0.01 * gain};
  j["delta_ttt"] = {0.0, 0.0, 0.0, 0.0};
  j["best_step"] = 2;
  j["loss"] = {0.5, 0.4, 0.3};
  if (!affinity.is_null()) j["affinity"] = affinity;
  fs::create_directories(dir / "adapt" / method);
  std::ofstream(dir / "adapt" / method / "metrics.json") << j.dump(2);
}
}  // namespace

TEST_CASE("report tabulates mean and std over seeds and renders figures") {
  test::TempDir dir;
  nlohmann::json affinity = {{"tasks", {"semseg", "depth"}},
                             {"source", {{1.0, 0.2}, {0.2, 1.0}}},
                             {"target_before", {{1.0, 0.5}, {0.5, 1.0}}},
                             {"target_after", {{1.0, 0.3}, {0.3, 1.0}}},
                             {"gap_after", {{0.0, 0.1}, {0.1, 0.0}}}};
  for (int seed = 0; seed < 2; ++seed) {
    fs::path run = dir.path() / "exp" / ("seed-" + std::to_string(seed));
    write_metrics(run, "none", 0.0);
    write_metrics(run, "s4t", 1.0 + seed, affinity);
  }
  std::string out;
  int rc = test::run_command(test::s4t_binary().string() + " report " + (dir.path() / "exp").string(), out);
  REQUIRE_MESSAGE(rc == 0, out);
  fs::path report = dir.path() / "exp" / "report";
  std::ifstream md(report / "results.md");
  std::string table((std::istreambuf_iterator<char>(md)), std::istreambuf_iterator<char>());
  CHECK(table.find("| Base | 50.00 ± 0.00 | 1.0000 ± 0.0000 | +0.00 ± 0.00 | – |") != std::string::npos);
  // These files predate step selection: each reports its last step (semseg 51 / 52, depth 1.01 / 1.02);
  // the oracle (best Δ_TTT on the evaluated labels) is step 2 of both seeds (Δ 2 and 4 %).
  CHECK(table.find("| s4t | 51.50 ± 0.71 | 1.0150 ± 0.0071 | +0.75 ± 0.35 | 3.0 | +3.00 ± 1.41 | 2.0 | +0.75 ± 0.35 |") !=
        std::string::npos);
  CHECK(table.find("select = \"last\" chooses") != std::string::npos);
  CHECK(fs::exists(report / "results.tex"));
  CHECK(fs::exists(report / "synchronization.md"));
  for (auto f : {"curve_semseg.png", "curve_depth.svg", "curve_delta_ttt.png", "affinity_s4t.png", "affinity_s4t.svg"}) {
    CAPTURE(f);
    REQUIRE(fs::exists(report / f));
    CHECK(fs::file_size(report / f) > 1000);
  }
  std::ifstream png(report / "curve_semseg.png", std::ios::binary);
  char magic[4] = {};
  png.read(magic, 4);
  CHECK(std::string(magic + 1, 3) == "PNG");
}

TEST_CASE("report on a folder without results says so") {
  test::TempDir dir;
  std::string out;
  CHECK(test::run_command(test::s4t_binary().string() + " report " + dir.path().string(), out) != 0);
  CHECK(out.find("no adaptation results") != std::string::npos);
}
