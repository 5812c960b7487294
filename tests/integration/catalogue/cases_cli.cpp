// Command-line cases: unknown commands and options, malformed option values, options that name files
// that are not there. Everything is rejected before a plugin, dataset or model is loaded.
#include "catalogue.hpp"

namespace s4t::test::catalogue {

std::vector<Case> cli_cases() {
  const std::vector<std::string> no_run = {"runs"};
  std::vector<Case> c;
  auto cli = [&](std::string name, std::string command, int code, std::vector<std::string> words,
                 std::vector<Edit> edits = {}) {
    c.push_back({std::move(name), "", std::move(edits), std::move(command), code, std::move(words), no_run});
  };
  cli("no command", "{s4t}", 2, {"usage: s4t <command>"});
  cli("unknown command", "{s4t} trian {demo}", 2, {"unknown command 'trian'", "did you mean 'train'"});
  cli("train without CONFIG", "{s4t} train", 2, {"missing CONFIG", "usage: s4t train"});
  cli("adapt without CONFIG", "{s4t} adapt --method tent", 2, {"missing CONFIG"});
  cli("unknown option", "{s4t} train {demo} --iteratons 3", 2, {"unrecognised option '--iteratons'", "usage: s4t train"});
  cli("two configs", "{s4t} train {demo} {demo}", 2, {"usage: s4t train"});
  cli("option without its value", "{s4t} train {demo} --method", 2, {"--method", "usage: s4t train"});
  cli("--set without =", "{s4t} train {demo} {tiny} --set train.iterations", 2, {"--set 'train.iterations'", "expected section.key=value"});
  cli("--set with empty key", "{s4t} train {demo} {tiny} --set =3", 2, {"--set '=3'", "expected section.key=value"});
  cli("--set unterminated list", "{s4t} train {demo} {tiny} --set 'tasks.names=[\"depth\"'", 2, {"[tasks] names", "expected list of strings"});
  cli("--log-level unknown", "{s4t} train {demo} {tiny} --log-level loud", 2, {"--log-level", "log level 'loud'", "trace"});
  cli("--plugin-dir missing", "{s4t} train {demo} {tiny} --plugin-dir {dir}/nowhere", 2, {"--plugin-dir", "no such folder"});
  cli("--plugin-dir is a file", "{s4t} train {demo} {tiny} --plugin-dir {dir}/f.so", 2, {"--plugin-dir", "not a folder"},
      {write("f.so", "x")});
  cli("train --method unknown", "{s4t} train {demo} {tiny} --method tnet", 2, {"unknown method 'tnet'"});
  cli("adapt --method unknown", "{s4t} adapt {demo} {tiny} --method bogus", 2, {"unknown method 'bogus'"});
  cli("bench --method unknown", "{s4t} bench {demo} {tiny} --method bogus", 2, {"unknown method 'bogus'"});
  cli("adapt --checkpoint missing", "{s4t} adapt {demo} {tiny} --checkpoint {dir}/nope.pt", 2, {"--checkpoint", "nope.pt", "does not exist"});
  cli("adapt --checkpoint is a folder", "{s4t} adapt {demo} {tiny} --checkpoint {dir}/ck", 2, {"--checkpoint", "is a folder"},
      {make_dir("ck")});
  cli("eval --checkpoint is a folder", "{s4t} eval {demo} {tiny} --checkpoint {dir}/ck", 2, {"--checkpoint", "is a folder"},
      {make_dir("ck")});
  cli("eval --checkpoint missing", "{s4t} eval {demo} {tiny} --checkpoint {dir}/nope.pt", 2, {"--checkpoint", "does not exist"});
  cli("eval --on neither", "{s4t} eval {demo} {tiny} --on middle", 2, {"--on must be source or target", "middle"});
  cli("info --classes not a number", "{s4t} info {demo} {tiny} --classes many", 2, {"--classes", "usage: s4t info"});
  cli("compare --seeds not integers", "{s4t} compare {demo} {tiny} --seeds x", 2, {"--seeds: 'x' is not an integer"});
  cli("compare --seeds partly integers", "{s4t} compare {demo} {tiny} --seeds 0,1x", 2, {"--seeds: '1x' is not an integer"});
  cli("compare --seeds negative", "{s4t} compare {demo} {tiny} --seeds 0,-1", 2, {"compare.seeds", "out of range"});
  cli("compare --seeds repeated", "{s4t} compare {demo} {tiny} --seeds 0,0", 2, {"seed 0 is listed twice"});
  cli("compare --methods unknown", "{s4t} compare {demo} {tiny} --methods none,bogus", 2, {"unknown method 'bogus'"});
  cli("compare --methods repeated", "{s4t} compare {demo} {tiny} --methods tent,tent", 2, {"method 'tent' is listed twice"});
  cli("bench --iterations 0", "{s4t} bench {demo} {tiny} --iterations 0", 2, {"--iterations must be at least 1, got 0"});
  cli("bench --iterations negative", "{s4t} bench {demo} {tiny} --iterations -3", 2, {"--iterations must be at least 1"});
  cli("bench --iterations not a number", "{s4t} bench {demo} {tiny} --iterations many", 2, {"--iterations", "usage: s4t bench"});
  cli("bench --warmup negative", "{s4t} bench {demo} {tiny} --warmup -1", 2, {"--warmup must be 0 or more"});
  cli("bench --batch negative", "{s4t} bench {demo} {tiny} --batch -2", 2, {"--batch must be at least 1"});
  cli("bench --size 32xabc", "{s4t} bench {demo} {tiny} --size 32xabc", 2, {"--size", "'abc' is not an integer"});
  cli("bench --size without x", "{s4t} bench {demo} {tiny} --size 32", 2, {"--size '32'", "expected HxW"});
  cli("bench --size zero", "{s4t} bench {demo} {tiny} --size 0x32", 2, {"--size '0x32'", "between 1 and 16384"});
  cli("bench --size absurd", "{s4t} bench {demo} {tiny} --size 99999999x99999999", 2, {"--size", "between 1 and 16384"});
  cli("sweep without --key", "{s4t} sweep {demo} {tiny} --values 1,2", 2, {"--key and --values are required"});
  cli("sweep without --values", "{s4t} sweep {demo} {tiny} --key train.lr", 2, {"--key and --values are required"});
  cli("sweep --values bad second value", "{s4t} sweep {demo} {tiny} --key train.iterations --values 1,abc", 2,
      {"--values: train.iterations = abc", "expected integer"});
  cli("sweep --values out of range", "{s4t} sweep {demo} {tiny} --key ttt.steps --values 1,-4", 2,
      {"--values: ttt.steps = -4", "out of range"});
  cli("sweep --values repeated", "{s4t} sweep {demo} {tiny} --key ttt.steps --values 1,1", 2, {"--values: '1' repeats a value"});
  cli("sweep --values empty", "{s4t} sweep {demo} {tiny} --key ttt.steps --values ,", 2, {"--values lists no value"});
  cli("sweep --key unknown", "{s4t} sweep {demo} {tiny} --key train.iteraton --values 1,2", 2,
      {"unknown key 'iteraton' in [train]"});
  cli("sweep --key unknown table", "{s4t} sweep {demo} {tiny} --key bogus.key --values 1", 2, {"unknown table [bogus]"});
  cli("sweep --seeds not integers", "{s4t} sweep {demo} {tiny} --key ttt.steps --values 1 --seeds a", 2,
      {"--seeds: 'a' is not an integer"});
  cli("report without RUN_DIR", "{s4t} report", 2, {"usage: s4t report"});
  cli("report of a missing folder", "{s4t} report {dir}/nowhere --no-figures", 1, {"nowhere", "is not a run directory"});
  cli("report of a file", "{s4t} report {dir}/f.txt --no-figures", 1, {"f.txt", "is not a run directory"}, {write("f.txt", "x")});
  cli("report of an empty folder", "{s4t} report {dir}/empty --no-figures", 1, {"no adaptation results"}, {make_dir("empty")});
  cli("report unknown option", "{s4t} report {dir} --figures", 2, {"usage: s4t report"});
  cli("plugins show unknown", "{s4t} plugins show bogus", 2, {"no component named 'bogus'"});
  cli("config unknown subcommand", "{s4t} config frobnicate", 2, {"frobnicate"});
  cli("adapt before train", "{s4t} adapt {demo} {tiny} --method tent", 1,
      {"no finished source checkpoint for method 'tent'", "s4t train"}, {});
  c.back().absent = {"runs/demo/adapt/tent/metrics.json"};
  cli("eval before train", "{s4t} eval {demo} {tiny}", 1, {"no finished source checkpoint", "s4t train"});
  c.back().absent = {"runs/demo/source"};
  return c;
}

}  // namespace s4t::test::catalogue
