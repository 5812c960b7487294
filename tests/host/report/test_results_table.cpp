// The results table: each run at its selected step, Δ_TTT against the shared Base or each method's own
// step 0 ([compare] base), the oracle and last-step Δ_TTT beside it, and a caption naming both choices.
#include "s4t_testkit/doctest.hpp"

#include "report/results_table.hpp"
#include "s4t/error.hpp"

using namespace s4t;
using namespace s4t::host;

namespace {
Trajectory run(const std::string& method, std::vector<double> semseg, const std::string& selection, size_t selected) {
  Trajectory tr;
  tr.method = method;
  TaskSpec t;
  t.name = "semseg";
  t.metric = MetricKind::MeanIoU;
  t.higher_is_better = true;
  tr.tasks = {t};
  for (size_t i = 0; i < semseg.size(); ++i) {
    tr.steps.push_back(static_cast<std::int64_t>(i));
    tr.values.push_back({semseg[i]});
    tr.delta.push_back(100.0 * (semseg[i] - semseg[0]) / semseg[0]);
  }
  tr.selection = selection;
  tr.selected = selected;
  return tr;
}

// The shared Base scores 50; tent's own source model scores 40 before adapting, 44 after one step, 42 after two.
std::map<std::string, std::vector<Trajectory>> runs(const std::string& selection, size_t selected) {
  return {{"none", {run("none", {50.0, 50.0, 50.0}, selection, selected)}},
          {"tent", {run("tent", {40.0, 44.0, 42.0}, selection, selected)}}};
}
}  // namespace

TEST_CASE("Δ_TTT against the shared Base and against each method's own step 0") {
  auto shared = build_results_table({"none", "tent"}, runs("last", 2), {}, "shared");
  REQUIRE(shared.rows.size() == 2);
  const auto& t = shared.rows[1];
  CHECK(t.mean[0] == doctest::Approx(42.0));          // the last step, as selected
  CHECK(t.step_mean == doctest::Approx(2.0));
  CHECK(t.delta_mean == doctest::Approx(-16.0));      // 42 vs 50
  CHECK(t.oracle_delta_mean == doctest::Approx(-12.0));  // 44 vs 50, at step 1
  CHECK(t.oracle_step_mean == doctest::Approx(1.0));
  CHECK(t.last_delta_mean == doctest::Approx(-16.0));
  CHECK(shared.caption().find("select = \"last\" chooses") != std::string::npos);
  CHECK(shared.caption().find("shared") != std::string::npos);

  auto own = build_results_table({"none", "tent"}, runs("last", 2), {}, "step0");
  const auto& o = own.rows[1];
  CHECK(o.delta_mean == doctest::Approx(5.0));         // 42 vs its own 40
  CHECK(o.oracle_delta_mean == doctest::Approx(10.0));  // 44 vs 40
  CHECK(own.rows[0].name == "Base");
  CHECK(own.caption().find("own step 0") != std::string::npos);
  const auto md = own.markdown();
  CHECK(md.find(own.caption()) == 0);
  CHECK(md.find("| tent | 42.00 | +5.00 | 2 | +10.00 | 1 | +5.00 |") != std::string::npos);
  CHECK(own.json()["base"] == "step0");
  CHECK(own.csv().find(",\"last\",step0\n") != std::string::npos);
  CHECK_THROWS_AS(build_results_table({"none", "tent"}, runs("last", 2), {}, "bogus"), ConfigError);
}

TEST_CASE("the reported step follows each run's selection, the oracle is recomputed against the table's Base") {
  auto fixed = build_results_table({"none", "tent"}, runs("step:1", 1));
  CHECK(fixed.rows[1].mean[0] == doctest::Approx(44.0));
  CHECK(fixed.selection == "step:1");
  auto oracle = build_results_table({"none", "tent"}, runs("oracle", 2));  // selected index ignored for oracle
  CHECK(oracle.rows[1].step_mean == doctest::Approx(1.0));
  CHECK(oracle.rows[1].delta_mean == doctest::Approx(oracle.rows[1].oracle_delta_mean));
  CHECK(oracle.markdown().find("select = \"oracle\" chooses") != std::string::npos);
  // Runs that chose differently are named together.
  auto mixed_runs = runs("last", 2);
  mixed_runs["tent"].push_back(run("tent", {40.0, 41.0, 43.0}, "validation", 2));
  mixed_runs["none"].push_back(run("none", {50.0, 50.0, 50.0}, "validation", 2));
  auto mixed = build_results_table({"none", "tent"}, mixed_runs);
  CHECK(mixed.selection == "mixed: last, validation");
  CHECK(mixed.rows[1].seeds == 2);
  // A failed method keeps its row and the column count.
  auto failed = build_results_table({"none", "tent", "tipi"}, runs("last", 2), {{"tipi", "exploded"}});
  CHECK(failed.markdown().find("| tipi — failed: exploded | – | – | – | – | – | – |") != std::string::npos);
}
