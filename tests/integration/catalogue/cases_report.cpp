// Report cases: metrics.json, failed.json and sweep.json files that are damaged or of another layout,
// and names that must stay data when gnuplot draws them.
#include "catalogue.hpp"

namespace s4t::test::catalogue {

namespace {
const char* kTask = R"({"name": "depth", "kind": "regression", "channels": 1, "metric": "rmse", "higher_is_better": false})";

std::string metrics(const std::string& method, const std::string& steps, const std::string& values, const std::string& delta) {
  return std::string("{\"method\": \"") + method + "\", \"tasks\": [" + kTask + "], \"steps\": " + steps +
         ", \"trajectory\": {\"depth\": " + values + "}, \"delta_ttt\": " + delta + ", \"best_step\": 1}";
}
const std::string kNone = metrics("none", "[0, 1, 2]", "[1.0, 1.0, 1.0]", "[0.0, 0.0, 0.0]");
const std::string kTent = metrics("tent", "[0, 1, 2]", "[1.0, 0.9, 0.8]", "[0.0, 10.0, 20.0]");
const char* kNonePath = "r/adapt/none/metrics.json";
const char* kTentPath = "r/adapt/tent/metrics.json";
}  // namespace

std::vector<Case> report_cases() {
  std::vector<Case> c;
  const std::string report = "{s4t} report {dir}/r --no-figures";
  auto bad = [&](std::string name, std::string content, std::vector<std::string> words) {
    words.insert(words.begin(), "tent/metrics.json");
    c.push_back({std::move(name), "", {write(kNonePath, kNone), write(kTentPath, std::move(content))}, report, 1,
                 std::move(words), {"r/report/results.md"}});
  };
  c.push_back({"report of good results", "", {write(kNonePath, kNone), write(kTentPath, kTent)}, report, 0,
               {"| tent", "results.md"}, {}});
  bad("metrics.json with empty steps", metrics("tent", "[]", "[]", "[]"), {"\"steps\" is empty"});
  bad("metrics.json not JSON", "{\"method\": ", {"is not valid JSON"});
  bad("metrics.json empty file", "", {"is not valid JSON"});
  bad("metrics.json a list", "[1, 2, 3]", {"expected a JSON object"});
  bad("metrics.json without method", R"({"tasks": [], "steps": [0]})", {"key 'method' not found"});
  bad("metrics.json method not a string", R"({"method": 3, "tasks": [], "steps": [0]})", {"not a results file"});
  bad("metrics.json steps null", metrics("tent", "null", "[1.0]", "[0.0]"), {"not a results file"});
  bad("metrics.json steps of strings", metrics("tent", "[\"a\"]", "[1.0]", "[0.0]"), {"not a results file"});
  bad("metrics.json trajectory shorter than steps", metrics("tent", "[0, 1, 2]", "[1.0]", "[0.0, 1.0, 2.0]"),
      {"\"trajectory\" of task 'depth' has 1 values for 3 steps"});
  bad("metrics.json delta_ttt shorter than steps", metrics("tent", "[0, 1, 2]", "[1.0, 0.9, 0.8]", "[0.0]"),
      {"\"delta_ttt\" has 1 values for 3 steps"});
  bad("metrics.json without tasks", R"({"method": "tent", "tasks": [], "steps": [0], "trajectory": {}, "delta_ttt": [0]})",
      {"\"tasks\" is empty"});
  bad("metrics.json task without name", R"({"method": "tent", "tasks": [{"metric": "rmse"}], "steps": [0]})",
      {"key 'name' not found"});
  bad("metrics.json trajectory of a missing task", R"({"method": "tent", "tasks": [)" + std::string(kTask) +
      R"(], "steps": [0], "trajectory": {}, "delta_ttt": [0]})", {"key 'depth' not found"});
  // A selection this version does not know, or one naming a step the file lacks.
  const std::string tent_front = kTent.substr(0, kTent.size() - 1);
  bad("metrics.json selection of an unknown rule", tent_front + R"(, "selection": {"rule": "best", "step": 1}})",
      {"\"selection\"", "[ttt] select"});
  bad("metrics.json selection of a step not evaluated", tent_front + R"(, "selection": {"rule": "last", "step": 5}})",
      {"names step 5"});
  c.push_back({"report with --base of another value", "", {write(kNonePath, kNone), write(kTentPath, kTent)},
               report + " --base own", 2, {"--base 'own'", "shared or step0"}, {"r/report/results.md"}});
  c.push_back({"metrics.json seeds with other steps", "",
               {write(kNonePath, kNone), write(kTentPath, kTent),
                write("r/seed-1/adapt/tent/metrics.json", metrics("tent", "[0, 1]", "[1.0, 0.9]", "[0.0, 10.0]"))},
               report, 1, {"seed-1/adapt/tent/metrics.json", "tasks or steps differ"}, {"r/report/results.md"}});
  c.push_back({"failed.json not JSON", "", {write(kNonePath, kNone), write("r/adapt/tent/failed.json", "oops")}, report, 1,
               {"failed.json", "is not valid JSON"}, {}});
  c.push_back({"failed.json a string", "", {write(kNonePath, kNone), write("r/adapt/tent/failed.json", "\"oops\"")}, report, 1,
               {"failed.json", "expected a JSON object"}, {}});
  c.push_back({"failed.json reported as failed", "",
               {write(kNonePath, kNone), write("r/adapt/tent/failed.json", R"({"method": "tent", "error": "boom"})")}, report,
               0, {"tent", "failed"}, {}});
  auto sweep = [&](std::string name, std::string content, int code, std::vector<std::string> words) {
    c.push_back({std::move(name), "", {write("r/sweep.json", std::move(content))}, "{s4t} report {dir}/r --out {dir}/out", code,
                 std::move(words), {}});
  };
  sweep("sweep.json not JSON", "{", 1, {"sweep.json", "is not valid JSON"});
  sweep("sweep.json points not a list", R"({"key": "ttt.steps", "points": 3})", 1, {"sweep.json", "\"points\" must be a list"});
  sweep("sweep.json key not a string", R"({"key": 1, "points": []})", 1, {"sweep.json", "\"key\" must be a string"});
  sweep("sweep.json point without value", R"({"key": "k", "points": [{"methods": {}}]})", 1, {"sweep.json", "\"value\""});
  sweep("sweep.json delta of a string", R"({"key": "k", "points": [{"value": "1", "methods": {"tent": {"delta_ttt": "x"}}}]})",
        1, {"sweep.json", "\"delta_ttt\" of method 'tent' must be a number"});
  sweep("sweep.json delta null is a gap", R"({"key": "k", "points": [{"value": "1", "methods": {"tent": {"delta_ttt": null}}},
        {"value": "2", "methods": {"tent": {"delta_ttt": 1.5}}}]})", 0, {"sweep_k.png"});
  // Names are data: nothing in a run name, a method name or --out reaches a shell or gnuplot's `...`.
  c.push_back({"--out holding $(...) runs nothing", "", {write(kNonePath, kNone), write(kTentPath, kTent)},
               "{s4t} report {dir}/r --out '{dir}/out$(touch {dir}/pwned)'", 0, {"curve_depth.png"}, {"pwned"}});
  c.push_back({"run folder holding $(...) runs nothing", "",
               {write("r$(touch {dir}/pwned)/adapt/none/metrics.json", kNone),
                write("r$(touch {dir}/pwned)/adapt/tent/metrics.json", kTent)},
               "{s4t} report '{dir}/r$(touch {dir}/pwned)'", 0, {"curve_depth.png"}, {"pwned"}});
  c.push_back({"method name holding `...` runs nothing", "",
               {write(kNonePath, kNone), write(kTentPath, metrics("t`touch {dir}/pwned`'x", "[0, 1, 2]", "[1.0, 0.9, 0.8]",
                                                                  "[0.0, 10.0, 20.0]"))},
               "{s4t} report {dir}/r --out {dir}/out", 0, {"curve_depth.png"}, {"pwned"}});
  c.push_back({"--out under a file", "", {write(kNonePath, kNone), write(kTentPath, kTent), write("file", "x")},
               "{s4t} report {dir}/r --no-figures --out {dir}/file/out", 1, {"file/out"}, {}});
  return c;
}

std::vector<Case> fault_cases() {
  std::vector<Case> c;
  // A file-size limit stands in for a full disk: writes fail with EFBIG (SIGXFSZ ignored).
  c.push_back({"disk full while writing the checkpoint", "", {}, "(trap '' XFSZ; ulimit -f 400; {s4t} train {demo} {tiny})", 1,
               {"cannot write", "checkpoint.pt"}, {"runs/demo/source/s4t/checkpoint.pt", "runs/demo/source/s4t/done.json"}});
  c.push_back({"disk full while writing results", "trained", {},
               "(trap '' XFSZ; ulimit -f 0; {s4t} adapt {demo} {tiny} --method tent)", 1, {"cannot write"},
               {"runs/demo/adapt/tent/metrics.json"}});
  c.push_back({"divergence in source training", "", {}, "{s4t} train {demo} {tiny} --set train.lr=1e30", 1,
               {"diverged", "[train] lr", "No checkpoint was written"}, {"runs/demo/source/s4t/checkpoint.pt"}});
  c.push_back({"huge dataset size", "", {}, "{s4t} train {demo} {tiny} --set data.source.size=1000000000000", 1,
               {"has 1000000000000 samples", "GiB of memory; lower the dataset's size"}, {"runs/demo/source/s4t/checkpoint.pt"}});
  return c;
}

}  // namespace s4t::test::catalogue
