#include "run/trajectory.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "evaluation/metrics.hpp"
#include "evaluation/synchronization.hpp"

namespace s4t::host {

namespace {
// Enough of a TaskSpec to restore everything a report uses (the metric kind, not just its label).
nlohmann::json task_json(const TaskSpec& t) {
  return {{"name", t.name},
          {"kind", to_string(t.kind)},
          {"channels", t.channels},
          {"metric", to_string(t.metric)},
          {"label", t.metric_label()},
          {"higher_is_better", t.higher_is_better},
          {"unit", t.unit}};
}

// Reads task_json(), and the files written before it (metric = the label, nothing else): "RMSE" then
// stood for the aligned RMSE of depth and edge.
TaskSpec task_from_json(const nlohmann::json& j) {
  TaskSpec t;
  t.name = j.at("name");
  t.higher_is_better = j.at("higher_is_better");
  const std::string metric = j.at("metric");
  bool known = false;
  for (auto kind : {MetricKind::MeanIoU, MetricKind::Rmse, MetricKind::AlignedRmse, MetricKind::AngularError})
    if (metric == to_string(kind)) {
      t.metric = kind;
      known = true;
    }
  if (!known)
    t.metric = metric == "mIoU" ? MetricKind::MeanIoU : metric == "mErr" ? MetricKind::AngularError : MetricKind::AlignedRmse;
  const std::string kind = j.value("kind", t.metric == MetricKind::MeanIoU ? "classification" : "regression");
  t.kind = kind == to_string(TaskKind::Classification) ? TaskKind::Classification : TaskKind::Regression;
  t.channels = j.value("channels", std::int64_t{1});
  t.unit = j.value("unit", "");
  return t;
}
// JSON writes a NaN as null: read it back as NaN.
std::vector<double> doubles(const nlohmann::json& j) {
  std::vector<double> out;
  for (auto& v : j) out.push_back(v.is_number() ? v.get<double>() : std::nan(""));
  return out;
}
}  // namespace

nlohmann::json Trajectory::synchronization() const {
  if (steps.size() < 3) return nlohmann::json::object();
  std::vector<bool> higher;
  for (auto& t : tasks) higher.push_back(t.higher_is_better);
  std::vector<std::vector<double>> adapted(values.begin() + 1, values.end());  // steps 1..S
  auto measures = [](const Curves& c) {
    return nlohmann::json{{"step_variance", step_variance(c)}, {"dtw", dtw(c)},
                          {"cosine_similarity", cosine_similarity(c, true)},
                          {"cosine_similarity_sum", cosine_similarity(c, false)}};
  };
  return {{"relative_gain", measures(relative_gain_curves(adapted, values.front(), higher))},
          {"raw", measures(oriented_curves(adapted, higher))}};
}

nlohmann::json Trajectory::to_json() const {
  nlohmann::json j;
  j["method"] = method;
  j["protocol"] = protocol;
  j["seed"] = seed;
  for (auto& t : tasks) j["tasks"].push_back(task_json(t));
  j["steps"] = steps;
  nlohmann::json traj;
  for (size_t i = 0; i < tasks.size(); ++i) {
    std::vector<double> col;
    for (auto& v : values) col.push_back(v[i]);
    traj[tasks[i].name] = col;
  }
  j["trajectory"] = traj;
  j["delta_ttt"] = delta;
  j["best_step"] = steps.empty() ? 0 : steps[best];
  j["best_delta_ttt"] = delta.empty() ? 0.0 : delta[best];
  nlohmann::json base_j, best_j;
  for (size_t i = 0; i < tasks.size() && !values.empty(); ++i) {
    base_j[tasks[i].name] = values[0][i];
    best_j[tasks[i].name] = values[best][i];
  }
  j["base"] = base_j;
  j["best"] = best_j;
  j["batches"] = batches;
  j["updates"] = updates;
  j["nonfinite_steps"] = nonfinite_steps;
  j["seconds"] = seconds;
  j["step_ms"] = step_ms;
  j["predict_ms"] = predict_ms;
  j["synchronization"] = synchronization();
  j["loss"] = loss;
  if (!affinity.is_null()) j["affinity"] = affinity;
  return j;
}

Trajectory Trajectory::from_json(const nlohmann::json& j) {
  Trajectory t;
  if (!j.is_object()) throw std::runtime_error("expected a JSON object");
  t.method = j.at("method");
  t.protocol = j.value("protocol", "");
  t.seed = j.value("seed", 0);
  for (auto& task : j.at("tasks")) t.tasks.push_back(task_from_json(task));
  t.steps = j.at("steps").get<std::vector<std::int64_t>>();
  t.values.assign(t.steps.size(), std::vector<double>(t.tasks.size()));
  for (size_t i = 0; i < t.tasks.size(); ++i) {
    auto col = doubles(j.at("trajectory").at(t.tasks[i].name));
    for (size_t k = 0; k < col.size() && k < t.steps.size(); ++k) t.values[k][i] = col[k];
  }
  t.delta = doubles(j.at("delta_ttt"));
  // Everything a report reads is indexed by step: the lists must be complete.
  if (t.steps.empty()) throw std::runtime_error("\"steps\" is empty (no evaluated step)");
  if (t.tasks.empty()) throw std::runtime_error("\"tasks\" is empty");
  for (auto& task : t.tasks)
    if (j.at("trajectory").at(task.name).size() != t.steps.size())
      throw std::runtime_error("\"trajectory\" of task '" + task.name + "' has " +
                               std::to_string(j["trajectory"][task.name].size()) + " values for " +
                               std::to_string(t.steps.size()) + " steps");
  if (t.delta.size() != t.steps.size())
    throw std::runtime_error("\"delta_ttt\" has " + std::to_string(t.delta.size()) + " values for " +
                             std::to_string(t.steps.size()) + " steps");
  const auto best_step = j.value("best_step", std::int64_t{0});
  for (size_t i = 0; i < t.steps.size(); ++i)
    if (t.steps[i] == best_step) t.best = i;
  t.batches = j.value("batches", std::int64_t{0});
  t.updates = j.value("updates", std::int64_t{0});
  t.nonfinite_steps = j.value("nonfinite_steps", std::int64_t{0});
  t.seconds = j.value("seconds", 0.0);
  t.step_ms = j.value("step_ms", 0.0);
  t.predict_ms = j.value("predict_ms", 0.0);
  if (j.contains("affinity")) t.affinity = j["affinity"];
  if (j.contains("loss")) t.loss = doubles(j["loss"]);
  return t;
}

std::string Trajectory::to_csv() const {
  std::ostringstream out;
  out << "step";
  for (auto& t : tasks) out << "," << t.name << "_" << t.metric_label();
  out << ",delta_ttt\n";
  out.precision(8);
  for (size_t i = 0; i < steps.size(); ++i) {
    out << steps[i];
    for (auto v : values[i]) out << "," << v;
    out << "," << delta[i] << "\n";
  }
  return out.str();
}

}  // namespace s4t::host
