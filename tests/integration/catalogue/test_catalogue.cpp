// The bad-input and fault catalogue (cases_*.cpp) through the real `s4t` binary, one SUBCASE per case;
// and SIGINT / SIGTERM during `s4t train`, resumed to the same weights as an uninterrupted run.
#include <fstream>
#include <map>
#include <sstream>

#include "catalogue.hpp"
#include "fixtures.hpp"
#include "s4t_testkit/doctest.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
namespace fx = s4t::test::fixtures;

namespace s4t::test::catalogue {

Edit write(std::string path, std::string content) { return {Edit::Write, std::move(path), std::move(content)}; }
Edit truncate(std::string path, long bytes) { return {Edit::Truncate, std::move(path), std::to_string(bytes)}; }
Edit remove(std::string path) { return {Edit::Remove, std::move(path), ""}; }
Edit flip(std::string path, long offset) { return {Edit::FlipBytes, std::move(path), std::to_string(offset)}; }
Edit make_dir(std::string path) { return {Edit::MakeDir, std::move(path), ""}; }

namespace {

const char* kTiny =
    "--set train.iterations=2 --set data.source.size=8 --set data.target.size=4 --set ttt.steps=1 "
    "--set ttt.max_batches=1 --set run.progress=false --set data.workers=0 --set run.output_dir={dir}/runs";

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) text.replace(at, from.size(), to);
  return text;
}

std::string expand(std::string text, const fs::path& dir) {
  text = replace_all(text, "{tiny_data}", "--set run.progress=false --set data.workers=0");
  text = replace_all(text, "{tiny}", kTiny);
  text = replace_all(text, "{s4t}", s4t_binary().string());
  text = replace_all(text, "{demo}", (source_dir() / "configs" / "demo.toml").string());
  text = replace_all(text, "{data}", (dir / "data.toml").string());
  return replace_all(text, "{dir}", dir.string());
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `command` (placeholders expanded) through bash under a time limit: a hang is exit code 124.
int run(const std::string& command, const fs::path& dir, std::string& output) {
  const fs::path script = dir / ".case.sh";
  std::ofstream(script) << expand(command, dir) << "\n";
  return run_command("timeout -k 5 300 bash " + script.string(), output);
}

// A finished tiny run ("trained") or a partial one at iteration 4 ("partial"), made once per process
// and copied into each case that starts from it.
const fs::path& trained_runs(const std::string& kind) {
  static std::map<std::string, TempDir> made;
  auto it = made.find(kind);
  if (it == made.end()) {
    it = made.try_emplace(kind).first;
    const fs::path& dir = it->second.path();
    std::string out;
    const std::string extra = kind == "partial" ? " --set train.iterations=4 --set train.checkpoint_every=2" : "";
    REQUIRE_MESSAGE(run("{s4t} train {demo} {tiny}" + extra, dir, out) == 0, out);
    if (kind == "partial") fs::remove(dir / "runs" / "demo" / "source" / "s4t" / "done.json");
  }
  return it->second.path();
}

void write_dataset_config(const fs::path& dir, const std::string& dataset, const fs::path& root, const std::string& tasks) {
  std::ofstream(dir / "data.toml") << "[run]\nname = \"fixture\"\noutput_dir = \"" << (dir / "runs").string()
                                   << "\"\n[backbone.resnet]\ndepth = 18\nwidth = 4\n[tasks]\nnames = " << tasks
                                   << "\n[data.source]\ndataset = \"" << dataset << "\"\nroot = \"" << root.string()
                                   << "\"\nheight = 16\nwidth = 16\n[data.target]\ndataset = \"" << dataset
                                   << "\"\nroot = \"" << root.string() << "\"\nheight = 16\nwidth = 16\n"
                                   << "[train]\niterations = 2\nbatch = 2\nshuffle = false\n[ttt]\nbatch = 2\n";
}

void prepare(const Case& c, const fs::path& dir) {
  if (c.start == "trained" || c.start == "partial") {
    fs::copy(trained_runs(c.start) / "runs", dir / "runs", fs::copy_options::recursive);
  } else if (c.start == "nyud" || c.start == "nyud_atrc") {
    auto f = fx::write_nyud(dir / "NYUDv2", c.start == "nyud_atrc", 16, 16, 4, 2);
    write_dataset_config(dir, "nyudv2", f.root, "[\"semseg\", \"depth\", \"normals\", \"edge\"]");
  } else if (c.start == "pascal") {
    auto f = fx::write_pascal(dir / "PASCALContext", 4, 2);
    write_dataset_config(dir, "pascal_context", f.root, "[\"semseg\", \"normals\", \"edge\"]");
  } else if (c.start == "taskonomy") {
    auto f = fx::write_taskonomy(dir / "taskonomy", 3, 16);
    write_dataset_config(dir, "taskonomy", f.root, "[\"semseg\", \"depth\", \"normals\", \"edge\"]");
  } else {
    REQUIRE_MESSAGE(c.start.empty(), "unknown start '" << c.start << "'");
  }
  for (auto& e : c.edits) {
    const fs::path p = dir / expand(e.path, dir);
    if (p.has_parent_path()) fs::create_directories(p.parent_path());
    switch (e.kind) {
      case Edit::Write: std::ofstream(p, std::ios::binary) << expand(e.content, dir); break;
      case Edit::Truncate: fs::resize_file(p, std::stoull(e.content)); break;
      case Edit::Remove: fs::remove_all(p); break;
      case Edit::MakeDir: fs::create_directories(p); break;
      case Edit::FlipBytes: {
        std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
        f.seekg(std::stol(e.content));
        char b = 0;
        f.get(b);
        f.seekp(std::stol(e.content));
        f.put(static_cast<char>(b ^ 0x5a));
        break;
      }
    }
  }
}

void run_case(const Case& c) {
  TempDir dir;
  prepare(c, dir.path());
  std::string out;
  const int code = run(c.command, dir.path(), out);
  INFO("command: " << expand(c.command, dir.path()) << "\noutput:\n" << out);
  CHECK(code == c.exit_code);
  for (auto& w : c.words) CHECK_MESSAGE(out.find(expand(w, dir.path())) != std::string::npos, "missing words: " << w);
  // No raw library message may reach the user, nor a crash.
  for (auto raw : {"std::bad_alloc", "stoll", "basic_filebuf", "json.exception", "Segmentation fault", "terminate called"})
    CHECK_MESSAGE(out.find(raw) == std::string::npos, "raw message: " << raw);
  for (auto& a : c.absent) CHECK_MESSAGE(!fs::exists(dir.path() / expand(a, dir.path())), "left behind: " << a);
}

void run_table(const std::vector<Case>& cases) {
  for (auto& c : cases) {
    SUBCASE(c.name.c_str()) { run_case(c); }
  }
}

}  // namespace

TEST_CASE("catalogue: the catalogue holds at least 150 cases with distinct names") {
  std::vector<Case> all;
  for (auto table : {config_cases, cli_cases, file_cases, report_cases, fault_cases})
    for (auto& c : table()) all.push_back(c);
  std::map<std::string, int> names;
  for (auto& c : all) CHECK_MESSAGE(++names[c.name] == 1, "duplicate case name: " << c.name);
  CHECK(all.size() >= 150);
  MESSAGE("catalogue: " << all.size() << " cases");
}

TEST_CASE("catalogue: config values and files") { run_table(config_cases()); }
TEST_CASE("catalogue: command line") { run_table(cli_cases()); }
TEST_CASE("catalogue: plugin, dataset, checkpoint and run-directory files") { run_table(file_cases()); }
TEST_CASE("catalogue: report inputs") { run_table(report_cases()); }
TEST_CASE("catalogue: full disk and divergence") { run_table(fault_cases()); }

// SIGINT / SIGTERM: the step finishes, a checkpoint is written, the message says how to resume, the exit
// code is 128 + signal; --resume then ends with the same train_log.csv and weights as a run never stopped.
TEST_CASE("catalogue: a signal during s4t train checkpoints, and --resume gives the uninterrupted result") {
  for (auto [signal, code] : {std::pair<const char*, int>{"INT", 130}, {"TERM", 143}}) {
    CAPTURE(signal);
    TempDir stopped, straight;
    const std::string train = "{s4t} train {demo} {tiny} --set train.iterations=12 --set train.checkpoint_every=2 "
                              "--set train.log_every=1 --set run.seed=3";
    const std::string log = "{dir}/runs/demo/source/s4t/train_log.csv";
    std::string out;
    // Stop it once three iterations are logged.
    const int rc = run(train + " > {dir}/out.txt 2>&1 & pid=$!\n"
                               "for i in $(seq 600); do [ \"$(wc -l < " + log + " 2>/dev/null || echo 0)\" -ge 4 ] && break; sleep 0.1; done\n"
                               "kill -" + signal + " $pid; wait $pid; rc=$?; cat {dir}/out.txt; exit $rc",
                       stopped.path(), out);
    INFO(out);
    REQUIRE(rc == code);
    CHECK(out.find("continue with --resume") != std::string::npos);
    CHECK(out.find("checkpoint.pt") != std::string::npos);
    CHECK(!fs::exists(stopped.path() / "runs/demo/source/s4t/done.json"));
    REQUIRE(run(train + " --resume", stopped.path(), out) == 0);
    REQUIRE(run(train, straight.path(), out) == 0);
    const auto log_of = [](const fs::path& d) { return read_file(d / "runs/demo/source/s4t/train_log.csv"); };
    CHECK(log_of(stopped.path()) == log_of(straight.path()));
    std::string eval_stopped, eval_straight;
    REQUIRE(run("{s4t} eval {demo} {tiny} --set run.seed=3 --on source | grep -v checkpoint", stopped.path(), eval_stopped) == 0);
    REQUIRE(run("{s4t} eval {demo} {tiny} --set run.seed=3 --on source | grep -v checkpoint", straight.path(), eval_straight) == 0);
    auto table = [](const std::string& s) { return s.substr(s.find("  semseg") == std::string::npos ? 0 : s.find("  semseg")); };
    CHECK(table(eval_stopped) == table(eval_straight));
  }
}

}  // namespace s4t::test::catalogue
