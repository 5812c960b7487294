// End to end through the `s4t` binary: a tiny source training and adaptation on synthetic data.
#include "s4t_testkit/doctest.hpp"

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace s4t;

namespace {
const char* kTinyExperiment = R"(
[run]
name = "tiny"
output_dir = "OUT"
progress = false

[backbone.resnet]
depth = 18
width = 8

[data.source]
dataset = "synthetic"
domain = "source"
size = 32
height = 32
width = 32

[data.target]
dataset = "synthetic"
domain = "target"
size = 16
height = 32
width = 32

[data]
workers = 1

[train]
iterations = 40
batch = 4
lr = 1e-3
log_every = 10
checkpoint_every = 20

[ttt]
steps = 3
batch = 8
)";

fs::path write_experiment(const fs::path& dir) {
  std::string text = kTinyExperiment;
  text.replace(text.find("OUT"), 3, (dir / "runs").string());
  fs::path p = dir / "tiny.toml";
  std::ofstream(p) << text;
  return p;
}

nlohmann::json json_file(const fs::path& p) {
  std::ifstream in(p);
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

int run_s4t(const std::string& args, std::string& out) {
  return test::run_command(test::s4t_binary().string() + " " + args, out);
}
}  // namespace

TEST_CASE("train then adapt writes a complete run directory and the training loss falls") {
  test::TempDir dir;
  auto config = write_experiment(dir.path());
  std::string out;
  REQUIRE_MESSAGE(run_s4t("train " + config.string(), out) == 0, out);
  fs::path run = dir.path() / "runs" / "tiny";
  for (auto f : {"config.toml", "environment.json", "log.txt", "source/base/checkpoint.pt", "source/base/done.json",
                 "source/base/train_log.csv"})
    CHECK_MESSAGE(fs::exists(run / f), f);
  auto done = json_file(run / "source/base/done.json");
  CHECK(done["iterations"] == 40);
  CHECK(done["last_loss"].get<double>() < done["first_loss"].get<double>());
  auto env = json_file(run / "environment.json");
  CHECK(env.contains("torch_version"));
  CHECK(env.contains("git_revision"));
  CHECK(env["threads"].get<int>() >= 1);
  std::ifstream resolved(run / "config.toml");
  std::string text((std::istreambuf_iterator<char>(resolved)), std::istreambuf_iterator<char>());
  CHECK(text.find("protocol = 'episodic'") != std::string::npos);  // defaults filled in
  CHECK(text.find("resnet.so") != std::string::npos);              // plugin file recorded

  REQUIRE_MESSAGE(run_s4t("adapt " + config.string(), out) == 0, out);
  auto metrics = json_file(run / "adapt/none/metrics.json");
  CHECK(metrics["steps"].size() == 4);  // steps 0..3
  for (auto task : {"semseg", "depth", "normals", "edge"}) {
    auto curve = metrics["trajectory"][task];
    REQUIRE(curve.size() == 4);
    CHECK(curve[0].get<double>() == doctest::Approx(curve[3].get<double>()));  // `none` does not change anything
  }
  CHECK(metrics["delta_ttt"][3].get<double>() == doctest::Approx(0.0));
  CHECK(fs::exists(run / "adapt/none/trajectory.csv"));
  CHECK(out.find("semseg mIoU") != std::string::npos);
  // The summary reports the last step by default, names the rule, and shows the oracle beside it.
  CHECK(out.find("select = \"last\" chooses") != std::string::npos);
  CHECK(out.find("reported step 3 (select = last)") != std::string::npos);
  CHECK(out.find("Δ_TTT oracle") != std::string::npos);
  CHECK(metrics["selection"]["rule"] == "last");
  CHECK(metrics["selection"]["step"] == 3);
  CHECK(metrics["images"] == 16);

  // eval of the same checkpoint gives the Base numbers
  REQUIRE_MESSAGE(run_s4t("eval " + config.string(), out) == 0, out);
  CHECK(out.find("mIoU") != std::string::npos);
}

TEST_CASE("training resumes from its checkpoint and refuses to overwrite silently") {
  test::TempDir dir;
  auto config = write_experiment(dir.path());
  std::string out;
  REQUIRE_MESSAGE(run_s4t("train " + config.string() + " --set train.iterations=20", out) == 0, out);
  REQUIRE_MESSAGE(run_s4t("train " + config.string() + " --resume --set train.iterations=30", out) == 0, out);
  auto done = json_file(dir.path() / "runs/tiny/source/base/done.json");
  CHECK(done["resumed_from"] == 20);
  CHECK(done["iterations"] == 30);
  auto log = json_file(dir.path() / "runs/tiny/environment.json");
  CHECK(log.contains("command"));
  // A stale partial checkpoint is not overwritten without --resume or --force.
  fs::remove(dir.path() / "runs/tiny/source/base/done.json");
  CHECK(run_s4t("train " + config.string(), out) != 0);
  CHECK(out.find("--resume") != std::string::npos);
}

TEST_CASE("user errors exit non-zero with a clear message") {
  test::TempDir dir;
  auto config = write_experiment(dir.path());
  std::string out;
  CHECK(run_s4t("adapt " + config.string(), out) != 0);  // nothing trained yet
  CHECK(out.find("s4t train") != std::string::npos);
  CHECK(run_s4t("adapt " + config.string() + " --set 'ttt.select=\"best\"'", out) == 2);  // before any checkpoint is looked for
  CHECK(out.find("[ttt] select = \"best\"") != std::string::npos);
  std::ofstream(dir.path() / "typo.toml") << "[ttt]\nstpes = 40\n";
  CHECK(run_s4t("train " + (dir.path() / "typo.toml").string(), out) == 2);
  CHECK(out.find("typo.toml:2") != std::string::npos);
  CHECK(out.find("did you mean 'steps'") != std::string::npos);
}
