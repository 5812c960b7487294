// Which step a trajectory reports ([ttt] select): last, step:N, oracle and validation on a hand-made
// trajectory (no model); parse errors; metrics.json of earlier versions read with the last step.
#include "s4t_testkit/doctest.hpp"

#include <nlohmann/json.hpp>

#include "run/trajectory.hpp"
#include "s4t/error.hpp"

using namespace s4t;
using namespace s4t::host;

namespace {
// One mIoU task, steps 0, 1, 2, 3: the evaluated labels peak at step 1, the validation split at step 2.
Trajectory hand_made() {
  Trajectory tr;
  tr.method = "tent";
  TaskSpec t;
  t.name = "semseg";
  t.metric = MetricKind::MeanIoU;
  t.higher_is_better = true;
  tr.tasks = {t};
  tr.steps = {0, 1, 2, 3};
  tr.values = {{50.0}, {56.0}, {53.0}, {51.0}};
  tr.delta = {0.0, 12.0, 6.0, 2.0};
  tr.best = best_step_index(tr.delta);
  tr.validation_images = 4;
  tr.validation_values = {{40.0}, {41.0}, {44.0}, {42.0}};
  tr.validation_delta = {0.0, 2.5, 10.0, 5.0};
  tr.images = 12;
  return tr;
}
}  // namespace

TEST_CASE("the four selections pick their own steps of one trajectory") {
  auto tr = hand_made();
  CHECK(tr.best == 1);
  CHECK(tr.index_for(parse_step_selection("oracle")) == 1);
  CHECK(tr.index_for(parse_step_selection("last")) == 3);
  CHECK(tr.index_for(parse_step_selection("step:2")) == 2);
  CHECK(tr.index_for(parse_step_selection("step:0")) == 0);
  CHECK(tr.index_for(parse_step_selection("validation")) == 2);  // not the oracle's step 1
  CHECK_THROWS_WITH_AS(tr.index_for(parse_step_selection("step:5")), doctest::Contains("not evaluated"), Error);
  tr.select(parse_step_selection("validation"));
  CHECK(tr.selection == "validation");
  CHECK(tr.selected == 2);
  // Without a validation trajectory there is nothing to choose on.
  Trajectory bare = hand_made();
  bare.validation_delta.clear();
  CHECK_THROWS_WITH_AS(bare.index_for(parse_step_selection("validation")), doctest::Contains("validation_size"), Error);
  // Only step 0 evaluated: every rule reports it.
  CHECK(best_step_index({0.0}) == 0);
  CHECK(best_step_index({0.0, -3.0, -1.0}) == 2);  // best among steps ≥ 1 even when all lose
}

TEST_CASE("select values outside the accepted forms are config errors naming the key") {
  for (auto bad : {"best", "step:", "step:-1", "step:x", "step: 3", "Last", "", "validation:4"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(parse_step_selection(bad), doctest::Contains("[ttt] select"), ConfigError);
  }
  CHECK_THROWS_WITH_AS(parse_step_selection("bogus"), doctest::Contains("step:N"), ConfigError);
  CHECK(parse_step_selection("step:40").step == 40);
  CHECK(parse_step_selection("step:40").text() == "step:40");
}

TEST_CASE("metrics.json round trip keeps the selection and the validation trajectory") {
  auto tr = hand_made();
  tr.select(parse_step_selection("validation"));
  tr.grid_size = {48, 64};
  tr.fused_size = {12, 16};
  auto j = tr.to_json();
  CHECK(j["selection"]["rule"] == "validation");
  CHECK(j["selection"]["step"] == 2);
  CHECK(j["best_step"] == 1);  // the oracle, still recorded
  CHECK(j["last_step"] == 3);
  CHECK(j["selected"]["semseg"].get<double>() == doctest::Approx(53.0));
  auto back = Trajectory::from_json(j);
  CHECK(back.selection == "validation");
  CHECK(back.selected == 2);
  CHECK(back.best == 1);
  CHECK(back.images == 12);
  CHECK(back.validation_images == 4);
  REQUIRE(back.validation_values.size() == 4);
  CHECK(back.validation_values[2][0] == doctest::Approx(44.0));
  CHECK(back.validation_delta == tr.validation_delta);
  CHECK(back.grid_size == tr.grid_size);
  CHECK(back.fused_size == tr.fused_size);
  // A selection naming a step that is not in the file is a layout error.
  j["selection"]["step"] = 7;
  CHECK_THROWS_WITH(Trajectory::from_json(j), doctest::Contains("not in \"steps\""));
  j["selection"] = {{"rule", "best"}, {"step", 1}};
  CHECK_THROWS_WITH(Trajectory::from_json(j), doctest::Contains("\"selection\""));
}

TEST_CASE("metrics.json written before selections existed reports its last step") {
  // The layout of earlier versions: best_step only, no selection, images, grid or validation.
  auto old = nlohmann::json::parse(R"({
    "method": "s4t", "protocol": "episodic", "seed": 0,
    "tasks": [{"name": "semseg", "metric": "mIoU", "higher_is_better": true}],
    "steps": [0, 10, 20], "trajectory": {"semseg": [30.0, 34.0, 32.0]},
    "delta_ttt": [0.0, 13.3, 6.7], "best_step": 10, "best_delta_ttt": 13.3})");
  auto tr = Trajectory::from_json(old);
  CHECK(tr.best == 1);
  CHECK(tr.selection == "last");
  CHECK(tr.selected == 2);
  CHECK(tr.images == 0);
  CHECK(tr.validation_delta.empty());
  CHECK(tr.grid_size == std::array<std::int64_t, 2>{0, 0});
}
