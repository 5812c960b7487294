// Two-rank source training through `s4t launch` (processes on the loopback, Gloo), and the failure
// behaviour: a kill then --resume, a rank killed mid-run named by the survivor within [run]
// dist_timeout_s, a rank that never joins, bad launch variables.
#include "s4t_testkit/doctest.hpp"

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "distributed/launch_environment.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace s4t;

namespace {
const char* kTiny = R"(
[run]
name = "dist"
output_dir = "OUT"
progress = false
threads = 1
dist_timeout_s = 10

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
size = 8
height = 32
width = 32

[data]
workers = 0

[train]
iterations = 24
batch = 4
lr = 1e-3
log_every = 4
checkpoint_every = 4
)";

fs::path write_config(const fs::path& dir) {
  std::string text = kTiny;
  text.replace(text.find("OUT"), 3, (dir / "runs").string());
  fs::path p = dir / "dist.toml";
  std::ofstream(p) << text;
  return p;
}

nlohmann::json json_file(const fs::path& p) {
  std::ifstream in(p);
  REQUIRE_MESSAGE(in.good(), p.string());
  return nlohmann::json::parse(in);
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string train(const fs::path& config) {
  return test::s4t_binary().string() + " train " + config.string() + " --plugin-dir " + test::plugin_dir().string();
}
std::string launch(const std::string& args) {
  return test::s4t_binary().string() + " launch --nproc 2 -- " + args + " --plugin-dir " + test::plugin_dir().string();
}

// The loss columns of train_log.csv (iteration,lr,total,...), rows as text.
std::vector<std::string> log_rows(const fs::path& run) {
  std::vector<std::string> rows;
  std::ifstream in(run / "source/base/train_log.csv");
  for (std::string line; std::getline(in, line);) rows.push_back(line);
  return rows;
}

bool has_distributed() {
  std::string out;
  test::run_command(test::s4t_binary().string() + " launch --nproc 2 -- --version", out);
  return out.find("no distributed support") == std::string::npos;
}
}  // namespace

TEST_CASE("s4t launch --nproc 2 trains one model: rank 0 writes the run, the replicas agree") {
  if (!has_distributed()) return;
  test::TempDir dir;
  auto config = write_config(dir.path());
  std::string out;
  // With synchronised BatchNorm (the default; said here because this test is the one that covers it).
  REQUIRE_MESSAGE(test::run_command(launch("train " + config.string() + " --set train.sync_batchnorm=true"), out) == 0, out);
  fs::path run = dir.path() / "runs" / "dist";
  auto done = json_file(run / "source/base/done.json");
  CHECK(done["world_size"] == 2);
  CHECK(done["samples_per_step"] == 4);  // [train] batch is global: 2 per rank
  CHECK(done["replicas_identical"] == true);
  CHECK(done["iterations"] == 24);
  CHECK(json_file(run / "environment.json")["world_size"] == 2);
  CHECK(log_rows(run).size() == 1 + 24 / 4);
  // One log file, written by rank 0 alone.
  auto log = read_text(run / "log.txt");
  CHECK(log.find("data-parallel training on 2 ranks") != std::string::npos);
  CHECK(out.find("[rank 1]") == std::string::npos);  // rank 1 prints warnings and errors only
}

TEST_CASE("a distributed run killed mid-training resumes with --resume and ends where an uninterrupted run does") {
  if (!has_distributed()) return;
  test::TempDir dir;
  auto config = write_config(dir.path());
  std::string out;
  const std::string longer = " --set train.iterations=32";
  fs::path reference = dir.path() / "reference";
  REQUIRE_MESSAGE(test::run_command(launch("train " + config.string() + longer + " --set run.output_dir=" + reference.string()), out) == 0, out);
  // The launcher and both workers are killed with SIGKILL once a checkpoint exists.
  fs::path run = dir.path() / "runs" / "dist";
  const std::string log = (dir.path() / "killed.log").string();
  const std::string script = launch("train " + config.string() + longer) + " > " + log +
                             " 2>&1 & PID=$!; for i in $(seq 1 1200); do [ -f " +
                             (run / "source/base/checkpoint.pt").string() + " ] && break; sleep 0.05; done; "
                             "kill -9 $(sed -n \"s/.*rank [0-9]* is pid \\([0-9]*\\).*/\\1/p\" " + log + ") $PID; wait $PID; exit 0";
  std::ofstream(dir.path() / "kill.sh") << script << "\n";
  test::run_command("bash " + (dir.path() / "kill.sh").string(), out);
  REQUIRE(fs::exists(run / "source/base/checkpoint.pt"));
  REQUIRE_FALSE(fs::exists(run / "source/base/done.json"));  // it did not finish
  REQUIRE_MESSAGE(test::run_command(launch("train " + config.string() + longer + " --resume"), out) == 0, out);
  auto done = json_file(run / "source/base/done.json");
  CHECK(done["resumed_from"].get<int>() > 0);
  CHECK(done["resumed_from"].get<int>() < 32);
  CHECK(done["replicas_identical"] == true);
  // The same loss rows as the run that was never interrupted (same data order, same sums).
  auto a = log_rows(reference / "dist"), b = log_rows(run);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == b[i]);
}

TEST_CASE("a rank killed mid-run: the launcher reports it, the survivor names it within dist_timeout_s") {
  if (!has_distributed()) return;
  test::TempDir dir;
  auto config = write_config(dir.path());
  fs::path log = dir.path() / "launch.log";
  const std::string script =
      launch("train " + config.string() + " --set train.iterations=100000 --set train.checkpoint_every=0") + " > " +
      log.string() + " 2>&1 & PID=$!; for i in $(seq 1 1200); do grep -q \"data-parallel training\" " + log.string() +
      " && break; sleep 0.05; done; sleep 1; R1=$(sed -n \"s/.*rank 1 is pid \\([0-9]*\\).*/\\1/p\" " + log.string() +
      "); date +%s%N > " + (dir.path() / "t0").string() + "; kill -9 $R1; wait $PID; echo \"launcher=$?\" >> " +
      log.string() + "; date +%s%N > " + (dir.path() / "t1").string();
  std::string out;
  std::ofstream(dir.path() / "kill.sh") << script << "\n";
  test::run_command("bash " + (dir.path() / "kill.sh").string(), out);
  auto text = read_text(log);
  CAPTURE(text);
  CHECK(text.find("rank 1 was killed by signal 9") != std::string::npos);
  CHECK(text.find("launcher=137") != std::string::npos);
  // Rank 0's own error names rank 1.
  CHECK(text.find("[rank 0] [error]") != std::string::npos);
  const bool named = text.find("rank 1 stopped responding") != std::string::npos;
  CHECK(named);
  const double seconds = (std::stod(read_text(dir.path() / "t1")) - std::stod(read_text(dir.path() / "t0"))) / 1e9;
  CHECK(seconds < 10.0);
}

TEST_CASE("a rank that never joins, and bad launch variables, are clear errors") {
  if (!has_distributed()) return;
  test::TempDir dir;
  auto config = write_config(dir.path());
  std::string out;
  auto t0 = std::chrono::steady_clock::now();
  const int port = s4t::host::free_local_port();  // a random one can collide with another run's store
  const int rc = test::run_command("RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " " + train(config) + " --set run.dist_timeout_s=2",
                                   out);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(rc == 1);
  CHECK_MESSAGE(out.find("rank 1 did not join the run") != std::string::npos, out);
  CHECK(seconds < 30.0);
  CHECK(test::run_command("RANK=0 WORLD_SIZE=0 " + train(config), out) == 2);
  CHECK_MESSAGE(out.find("WORLD_SIZE='0'") != std::string::npos, out);
  CHECK(test::run_command("RANK=1 WORLD_SIZE=2 MASTER_PORT=29500 " + train(config), out) == 2);
  CHECK_MESSAGE(out.find("MASTER_ADDR is not set") != std::string::npos, out);
  // (RANK >= WORLD_SIZE, bad ports, ...: tests/host/distributed/test_launch_environment.cpp)
  CHECK(test::run_command(test::s4t_binary().string() + " launch --nproc 0 -- train " + config.string(), out) == 2);
  CHECK(test::run_command(test::s4t_binary().string() + " launch --nproc 2", out) == 2);
  CHECK_MESSAGE(out.find("no command after --") != std::string::npos, out);
}
