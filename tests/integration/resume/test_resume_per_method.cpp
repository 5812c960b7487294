// Resume exactness per method: `s4t train` stopped by SIGTERM or SIGKILL and continued with --resume
// must end with the train_log.csv and checkpoint weights of an uninterrupted run, for each method with its
// own source objective (rotations, SimCLR views, cluster heads, noise and TBS masks all draw random
// numbers, which must come from the generator the checkpoint saves), for the shared base model, and for
// the methods that post-train it (ActMAD's statistics, TTTFlow's flow head).
#include "s4t_testkit/doctest.hpp"

#include <ATen/ops/equal.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "s4t/state_dict.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// 12 logged iterations with a checkpoint every 2: the stop lands between checkpoints, so the resumed run
// also repeats the iterations after the last checkpoint.
std::string train_command(const std::string& method, const fs::path& dir) {
  return s4t::test::s4t_binary().string() + " train " + (s4t::test::source_dir() / "configs" / "demo.toml").string() +
         " --set ttt.method=" + method +
         " --set train.iterations=12 --set train.checkpoint_every=2 --set train.log_every=1 --set run.seed=3"
         " --set data.source.size=8 --set data.target.size=4 --set data.source.height=32 --set data.source.width=32"
         " --set data.target.height=32 --set data.target.width=32 --set backbone.resnet.width=8"
         " --set run.progress=false --set data.workers=0 --set run.output_dir=" + (dir / "runs").string();
}

int run_script(const fs::path& dir, const std::string& script, std::string& out) {
  const fs::path file = dir / "case.sh";
  std::ofstream(file) << script << "\n";
  return s4t::test::run_command("timeout -k 5 300 bash " + file.string(), out);
}

// SIGTERM: the step finishes and a checkpoint is written (exit 143). SIGKILL: the run dies where it is
// (exit 137); --resume starts from the last periodic checkpoint and trims the log rows after it.
enum class Stop { Term, Kill };

// `training` is the folder the stopped training writes: the method's own, or "base" for methods that adapt
// the shared base model (some then post-train it into their own folder: every folder is compared).
void check_resume_is_exact(const std::string& method, Stop stop, const std::string& training) {
  s4t::test::TempDir stopped, straight;
  const std::string source = "runs/demo/source/" + training;
  const std::string log = (stopped.path() / source / "train_log.csv").string();
  std::string out;
  // Stopped once three iterations are logged (header + 3 lines).
  const std::string signal = stop == Stop::Term ? "TERM" : "KILL";
  const int rc = run_script(stopped.path(),
                            train_command(method, stopped.path()) + " > out.txt 2>&1 & pid=$!\n"
                            "for i in $(seq 600); do [ \"$(wc -l < " + log + " 2>/dev/null || echo 0)\" -ge 4 ] && break; sleep 0.05; done\n"
                            "kill -" + signal + " $pid; wait $pid; rc=$?; cat out.txt; exit $rc",
                            out);
  INFO(out);
  REQUIRE(rc == (stop == Stop::Term ? 143 : 137));
  REQUIRE(!fs::exists(stopped.path() / source / "done.json"));
  REQUIRE(run_script(stopped.path(), train_command(method, stopped.path()) + " --resume", out) == 0);
  REQUIRE(run_script(straight.path(), train_command(method, straight.path()), out) == 0);
  const std::string resumed_log = read_file(stopped.path() / source / "train_log.csv");
  CHECK(std::count(resumed_log.begin(), resumed_log.end(), '\n') == 13);
  CHECK(resumed_log == read_file(straight.path() / source / "train_log.csv"));
  // Every weight, buffer, method state and the generator state, to the bit. (The optimizer's archive is
  // not compared as bytes: LibTorch keys its state by tensor addresses; a wrong Adam state would show in
  // the losses above.)
  size_t compared = 0;
  for (const auto& folder : fs::directory_iterator(straight.path() / "runs/demo/source")) {
    const fs::path relative = fs::relative(folder.path() / "checkpoint.pt", straight.path());
    CAPTURE(relative);
    const s4t::StateDict uninterrupted = s4t::read_state_dict(straight.path() / relative);
    const s4t::StateDict resumed = s4t::read_state_dict(stopped.path() / relative);
    REQUIRE(resumed.size() == uninterrupted.size());
    for (const auto& [name, tensor] : resumed) {
      if (name == "optimizer") continue;
      CAPTURE(name);
      REQUIRE(uninterrupted.count(name) == 1);
      CHECK(at::equal(tensor, uninterrupted.at(name)));
    }
    ++compared;
  }
  CHECK(compared >= 1);
}

}  // namespace

TEST_CASE("resume: s4t (TBS masks) continues exactly after SIGTERM") { check_resume_is_exact("s4t", Stop::Term, "s4t"); }
TEST_CASE("resume: ttt (random rotations) continues exactly after SIGKILL") { check_resume_is_exact("ttt", Stop::Kill, "ttt"); }
TEST_CASE("resume: tttpp (SimCLR views) continues exactly after SIGKILL") { check_resume_is_exact("tttpp", Stop::Kill, "tttpp"); }
TEST_CASE("resume: clust3 continues exactly after SIGTERM") { check_resume_is_exact("clust3", Stop::Term, "clust3"); }
TEST_CASE("resume: ncttt (feature noise) continues exactly after SIGKILL") { check_resume_is_exact("ncttt", Stop::Kill, "ncttt"); }
// The shared base model (Base, TENT, TIPI) and the methods that post-train it into their own folder.
TEST_CASE("resume: the base model continues exactly after SIGKILL") { check_resume_is_exact("none", Stop::Kill, "base"); }
TEST_CASE("resume: actmad (base + source statistics) continues exactly after SIGTERM") { check_resume_is_exact("actmad", Stop::Term, "base"); }
TEST_CASE("resume: tttflow (base + flow head) continues exactly after SIGKILL") { check_resume_is_exact("tttflow", Stop::Kill, "base"); }
