// Config cases: every host key given a value of the wrong type and one outside its range or choices,
// component tables, and config files that are not what they should be. All fail before any work.
#include "catalogue.hpp"

namespace s4t::test::catalogue {

namespace {
const std::vector<std::string> kNoRun = {"runs"};

// `s4t train` with one --set; must fail with exit 2 naming the key and what was expected.
Case set_case(const std::string& assignment, std::vector<std::string> words, bool names_the_set = true) {
  if (names_the_set) words.push_back("--set " + assignment);
  return {"--set " + assignment, "", {}, "{s4t} train {demo} {tiny} --set '" + assignment + "'", 2, words, kNoRun};
}
}  // namespace

std::vector<Case> config_cases() {
  std::vector<Case> c;
  // Wrong types.
  struct Typed {
    const char* key;
    const char* value;
    const char* expected;
  };
  const std::vector<Typed> wrong_types = {
      {"run.seed", "abc", "expected integer"},          {"run.threads", "1.5", "expected integer"},
      {"run.progress", "3", "expected bool"},           {"run.name", "[1, 2]", "expected string"},
      {"run.output_dir", "true", "expected string"},    {"run.log_level", "7", "expected string"},
      {"data.workers", "two", "expected integer"},      {"data.prefetch", "[1]", "expected integer"},
      {"data.pin_memory", "\"yes\"", "expected bool"},  {"train.iterations", "abc", "expected integer"},
      {"train.iterations", "2.5", "expected integer"},  {"train.batch", "true", "expected integer"},
      {"train.lr", "fast", "expected float"},           {"train.weight_decay", "[0.1]", "expected float"},
      {"train.momentum", "high", "expected float"},     {"train.poly_power", "false", "expected float"},
      {"train.checkpoint_every", "often", "expected integer"}, {"train.log_every", "1.0", "expected integer"},
      {"train.shuffle", "1", "expected bool"},          {"ttt.steps", "many", "expected integer"},
      {"ttt.batch", "0.5", "expected integer"},         {"ttt.max_batches", "all", "expected integer"},
      {"ttt.eval_every", "[1, 2]", "expected integer"}, {"ttt.skip_nonfinite", "2", "expected bool"},
      {"ttt.affinity", "\"on\"", "expected bool"},      {"ttt.affinity_batches", "x", "expected integer"},
      {"tasks.names", "[1, 2]", "expected list of strings"}, {"tasks.names", "depth", "expected list of strings"},
      {"tasks.loss_weights", "[\"a\"]", "expected list of floats"}, {"compare.seeds", "[\"a\"]", "expected list of integers"},
      {"compare.methods", "[1]", "expected list of strings"}, {"plugins.dirs", "7", "expected list of strings"},
  };
  for (auto& t : wrong_types) {
    auto [table, key] = std::pair<std::string, std::string>(std::string(t.key).substr(0, std::string(t.key).find('.')),
                                                            std::string(t.key).substr(std::string(t.key).find('.') + 1));
    c.push_back(set_case(std::string(t.key) + "=" + t.value, {"[" + table + "] " + key, t.expected}));
  }
  // Out of range or not one of the choices.
  const std::vector<Typed> out_of_range = {
      {"run.seed", "-1", "expected a value >= 0"},         {"run.threads", "-2", "expected a value >= 0"},
      {"run.log_level", "loud", "is not one of"},          {"data.workers", "65", "expected a value in [0, 64]"},
      {"data.prefetch", "0", "expected a value in [1, 64]"}, {"train.iterations", "-1", "out of range"},
      {"train.batch", "0", "out of range"},                {"train.optimizer", "adamw", "is not one of"},
      {"train.lr", "-0.1", "out of range"},                {"train.weight_decay", "-1e-6", "out of range"},
      {"train.momentum", "2.0", "expected a value in [0.0, 1.0]"}, {"train.poly_power", "-1", "out of range"},
      {"train.checkpoint_every", "-5", "out of range"},    {"train.log_every", "0", "out of range"},
      {"train.post_training_batches", "-1", "out of range"}, {"ttt.protocol", "sometimes", "is not one of"},
      {"ttt.steps", "100001", "out of range"},             {"ttt.steps", "-1", "out of range"},
      {"ttt.batch", "0", "out of range"},                  {"ttt.max_batches", "-1", "out of range"},
      {"ttt.eval_every", "0", "out of range"},             {"ttt.affinity_batches", "0", "out of range"},
      {"compare.seeds", "[0, -1]", "out of range"},        {"tasks.loss_weights", "[1.0, -1.0, 1.0, 1.0]", "out of range"},
  };
  for (auto& t : out_of_range) {
    std::string k = t.key;
    c.push_back(set_case(k + "=" + t.value, {"[" + k.substr(0, k.find('.')) + "] " + k.substr(k.find('.') + 1), t.expected}));
  }
  // Names that must resolve, and keys that must exist.
  c.push_back(set_case("model.backbone=vgg", {"unknown backbone 'vgg'", "valid backbones:", "resnet"}));
  c.push_back(set_case("model.head=mlp", {"unknown head 'mlp'"}));
  c.push_back(set_case("ttt.method=tnet", {"unknown method 'tnet'", "did you mean 'tent'"}));
  c.push_back(set_case("compare.methods=[\"none\", \"bogus\"]", {"compare.methods", "unknown method 'bogus'"}));
  c.push_back(set_case("data.source.dataset=imagenet", {"unknown dataset 'imagenet'", "synthetic"}));
  c.push_back(set_case("data.target.dataset=\"\"", {"[data.target] dataset"}));
  c.push_back(set_case("tasks.names=[]", {"[tasks] names is empty"}));
  c.push_back(set_case("tasks.names=[\"depth\", \"depth\"]", {"[tasks] names lists 'depth' twice"}));
  c.push_back(set_case("tasks.loss_weights=[1.0]", {"loss_weights has 1 values but names has 4"}));
  c.push_back(set_case("run.nme=x", {"unknown key 'nme' in [run]", "did you mean 'name'"}));
  c.push_back(set_case("train.iteration=3", {"unknown key 'iteration' in [train]", "did you mean 'iterations'"}));
  c.push_back(set_case("trian.iterations=3", {"unknown table [trian]", "did you mean 'train'"}));
  c.push_back(set_case("data.source.sze=3", {"unknown key 'sze' in [data.source]", "did you mean 'size'"}));
  c.push_back(set_case("data.source.height=0", {"[data.source] height", "out of range"}));
  c.push_back(set_case("data.target.severity=99", {"[data.target] severity"}));
  c.push_back(set_case("method.tent.lr=-1", {"[method.tent] lr", "out of range"}));
  c.push_back(set_case("method.tnet.lr=1", {"[method.tnet]", "unknown method 'tnet'"}));
  c.push_back(set_case("method.s4t.bogus=1", {"unknown key 'bogus' in [method.s4t]"}));
  c.push_back(set_case("backbone.resnet.width=-4", {"[backbone.resnet] width"}));
  c.push_back(set_case("backbone.vgg.depth=16", {"[backbone.vgg]", "unknown backbone 'vgg'"}));
  c.push_back(set_case("plugins.dirs=[\"no/such/folder\"]", {"[plugins] dirs", "does not exist"}));
  c.push_back(set_case("run.device=gpu", {"[run] device = \"gpu\"", "expected cpu, cuda or cuda:N"}, false));
  c.push_back(set_case("run.device=cuda:9", {"[run] device = \"cuda:9\""}, false));

  // Config files.
  auto file_case = [&](std::string name, std::vector<Edit> edits, std::string config, std::vector<std::string> words) {
    c.push_back({name, "", std::move(edits), "{s4t} train " + config + " {tiny}", 2, std::move(words), kNoRun});
  };
  file_case("config file missing", {}, "{dir}/nope.toml", {"nope.toml", "does not exist"});
  file_case("config file is a folder", {make_dir("cfg.toml")}, "{dir}/cfg.toml", {"cfg.toml", "is a folder"});
  file_case("config file empty", {write("e.toml", "")}, "{dir}/e.toml", {"e.toml", "is empty"});
  file_case("config file of comments only", {write("e.toml", "# nothing here\n\n# still nothing\n")}, "{dir}/e.toml",
            {"e.toml", "is empty"});
  file_case("config file of empty tables only", {write("e.toml", "[run]\n[train]\n")}, "{dir}/e.toml", {"e.toml", "is empty"});
  file_case("extends a folder", {make_dir("base"), write("x.toml", "extends = \"base\"\n[run]\nname = \"x\"\n")},
            "{dir}/x.toml", {"x.toml: extends '", "base', which is a folder"});
  file_case("extends a missing file", {write("x.toml", "extends = \"gone.toml\"\n")}, "{dir}/x.toml",
            {"x.toml: extends '", "gone.toml', which does not exist"});
  file_case("extends itself", {write("x.toml", "extends = \"x.toml\"\n")}, "{dir}/x.toml", {"'extends' forms a cycle"});
  file_case("extends cycle of two",
            {write("a.toml", "extends = \"b.toml\"\n"), write("b.toml", "extends = \"a.toml\"\n")}, "{dir}/a.toml",
            {"'extends' forms a cycle"});
  file_case("extends not a string", {write("x.toml", "extends = 3\n")}, "{dir}/x.toml", {"'extends' must be a string"});
  file_case("extends an empty file", {write("e.toml", ""), write("x.toml", "extends = \"e.toml\"\n[run]\nname = \"x\"\n")},
            "{dir}/x.toml", {"e.toml", "is empty"});
  file_case("TOML syntax error", {write("x.toml", "[run]\nname = \"unterminated\n")}, "{dir}/x.toml",
            {"x.toml:2", "TOML syntax error"});
  file_case("TOML duplicate key", {write("x.toml", "[run]\nseed = 1\nseed = 2\n")}, "{dir}/x.toml", {"x.toml:3", "TOML syntax error"});
  file_case("TOML duplicate table", {write("x.toml", "[run]\nseed = 1\n[run]\nname = \"a\"\n")}, "{dir}/x.toml",
            {"x.toml:3", "TOML syntax error"});
  file_case("binary garbage as config", {write("x.toml", std::string("\x7f" "ELF\x02\x01\x01\0\0\0", 10))}, "{dir}/x.toml",
            {"x.toml", "TOML syntax error"});
  file_case("date value", {write("x.toml", "[run]\nname = 2024-01-01\n")}, "{dir}/x.toml", {"x.toml:2", "holds a date or time"});
  file_case("mixed array", {write("x.toml", "[tasks]\nnames = [\"depth\", 1]\n")}, "{dir}/x.toml",
            {"x.toml:2", "array of mixed or nested types"});
  file_case("nested array", {write("x.toml", "[tasks]\nnames = [[\"depth\"]]\n")}, "{dir}/x.toml",
            {"x.toml:2", "array of mixed or nested types"});
  file_case("key outside any table", {write("x.toml", "seed = 1\n")}, "{dir}/x.toml", {"x.toml:1", "outside any table"});
  file_case("unknown table in file", {write("x.toml", "[traning]\niterations = 1\n")}, "{dir}/x.toml",
            {"x.toml:1", "unknown table [traning]"});
  file_case("unknown key in file points at its line", {write("x.toml", "[run]\nname = \"a\"\nsed = 1\n")}, "{dir}/x.toml",
            {"x.toml:3", "unknown key 'sed' in [run]", "did you mean 'seed'"});
  file_case("wrong type in file points at its line", {write("x.toml", "[train]\n\nlog_every = \"ten\"\n")}, "{dir}/x.toml",
            {"x.toml:3", "[train] log_every", "expected integer"});
  file_case("plugins dirs names a file", {write("f.txt", "x"), write("x.toml", "[plugins]\ndirs = [\"f.txt\"]\n")},
            "{dir}/x.toml", {"[plugins] dirs", "is not a folder"});
  return c;
}

}  // namespace s4t::test::catalogue
