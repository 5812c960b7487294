// host::resolve_tasks on tiny Taskonomy and NYUD-v2 datasets (their exact on-disk formats): [tasks]
// metric_spec chooses whose TaskSpec scores the predictions (the released code scores by the target's
// tasks: sigmoid edges on NYUD, raw edges and unclamped depth on Taskonomy), clamp_depth turns the
// depth clamp off, and the loss side always stays the source's.
#include "config/experiment.hpp"
#include "config/host_schema.hpp"
#include "engine/setup.hpp"
#include "fixtures.hpp"
#include "helpers.hpp"
#include "s4t_testkit/doctest.hpp"
#include "test_support.hpp"

using namespace s4t;
using namespace s4t::host;
using namespace s4t::test;
namespace fx = s4t::test::fixtures;

namespace {
// An experiment holding the host's defaults, with `tasks.<key>` settings.
Experiment experiment(const std::map<std::string, Value>& tasks = {}) {
  Experiment x;
  for (auto& [name, schema] : host_sections()) x.host[name] = Options::defaults(schema, "[" + name + "]");
  for (auto& [key, value] : tasks) x.set("tasks." + key, value, "test");
  return x;
}
const TaskSpec& task(const std::vector<TaskSpec>& tasks, const std::string& name) {
  for (auto& t : tasks)
    if (t.name == name) return t;
  throw std::runtime_error("no task " + name);
}

struct Pair {
  TempDir tmp;
  std::shared_ptr<Dataset> taskonomy, nyud;
  Pair() {
    auto t = fx::write_taskonomy(tmp.path() / "taskonomy", 1);
    auto n = fx::write_nyud(tmp.path() / "NYUDv2", false, 24, 32, 1, 1);
    const Value classes(std::string("nyud_taskonomy"));
    taskonomy = make_real_dataset("taskonomy", "source", {{"root", Value(t.root.string())}, {"classes", classes}});
    nyud = make_real_dataset("nyudv2", "target", {{"root", Value(n.root.string())}, {"classes", classes}});
  }
};
}  // namespace

TEST_CASE("resolve_tasks: metric_spec = source (default) keeps the source's scoring") {
  Pair p;
  auto tasks = resolve_tasks(experiment(), *p.taskonomy, p.nyud.get());
  REQUIRE(tasks.size() == 4);
  CHECK(task(tasks, "edge").activation == Activation::None);  // Taskonomy: raw edges
  CHECK(task(tasks, "edge").loss == LossKind::L1);
  CHECK(task(tasks, "depth").clamp_nonnegative);
  CHECK(task(tasks, "depth").unit == "log");
  CHECK(task(tasks, "semseg").activation == Activation::Softmax);
}

TEST_CASE("resolve_tasks: metric_spec = target scores as the target declares, losses stay the source's") {
  Pair p;
  SUBCASE("Taskonomy -> NYUD: sigmoid edges, clamped metric depth") {
    auto tasks = resolve_tasks(experiment({{"metric_spec", Value(std::string("target"))}}), *p.taskonomy, p.nyud.get());
    CHECK(task(tasks, "edge").activation == Activation::Sigmoid);
    CHECK(task(tasks, "edge").metric == MetricKind::AlignedRmse);
    CHECK(task(tasks, "edge").loss == LossKind::L1);   // trained as on Taskonomy
    CHECK(task(tasks, "edge").loss_weight == 1.0);     // Taskonomy's weight, not NYUD's 50
    CHECK(task(tasks, "depth").clamp_nonnegative);
    CHECK(task(tasks, "depth").unit == "m");
  }
  SUBCASE("NYUD -> Taskonomy with clamp_depth = false: raw edges, unclamped depth (the release)") {
    auto x = experiment({{"metric_spec", Value(std::string("target"))}, {"clamp_depth", Value(false)}});
    auto tasks = resolve_tasks(x, *p.nyud, p.taskonomy.get());
    CHECK(task(tasks, "edge").activation == Activation::None);
    CHECK(task(tasks, "edge").loss == LossKind::BalancedBCE);  // trained as on NYUD
    CHECK(task(tasks, "edge").loss_weight == 50.0);
    CHECK_FALSE(task(tasks, "depth").clamp_nonnegative);
    CHECK(task(tasks, "depth").unit == "log");
  }
  SUBCASE("without a target dataset the source's scoring stays") {
    auto tasks = resolve_tasks(experiment({{"metric_spec", Value(std::string("target"))}}), *p.nyud, nullptr);
    CHECK(task(tasks, "edge").activation == Activation::Sigmoid);
  }
}

TEST_CASE("resolve_tasks: clamp_depth = false alone only drops the clamp") {
  Pair p;
  auto tasks = resolve_tasks(experiment({{"clamp_depth", Value(false)}}), *p.nyud, p.taskonomy.get());
  CHECK_FALSE(task(tasks, "depth").clamp_nonnegative);
  CHECK(task(tasks, "edge").activation == Activation::Sigmoid);  // still the source's
  CHECK_THROWS_AS(experiment({{"metric_spec", Value(std::string("targets"))}}), ConfigError);
}
